import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID, PARTNER_LIST, UtcTimestamp, utc_timestamp


class Documents(pa.DataFrameModel):
    """One row per statement file that was read as a document."""

    doc_id: str = pa.Field(
        str_matches=HEX_DOC_ID,
        unique=True,
        description="Stable document key: first 16 hex digits of sha256(source_path).",
    )
    source_path: str = pa.Field(
        unique=True,
        str_length={"min_value": 1},
        description="Path of the file relative to raw_dir, with '/' separators.",
    )
    format: str = pa.Field(isin=["txt", "md", "html"], description="Input format.")
    encoding: str = pa.Field(description="Character encoding the file was decoded with.")
    title: str = pa.Field(nullable=True, description="Headline, when the document states one.")
    published_date: pl.Date = pa.Field(
        nullable=True, description="Date of issue, when the document states one (dateline)."
    )
    content_sha256: str = pa.Field(
        str_matches=r"^[0-9a-f]{64}$", description="sha256 of the file's raw bytes."
    )
    size_bytes: pl.Int64 = pa.Field(ge=0, description="File size in bytes.")
    mtime_ns: pl.Int64 = pa.Field(
        description="File modification time (ns since epoch) when read; lets unchanged files "
        "be skipped without reading them."
    )
    n_paragraphs: pl.Int32 = pa.Field(ge=0, description="Number of content paragraphs.")
    ingested_at: UtcTimestamp = utc_timestamp("When this version of the file was processed.")
    run_id: str = pa.Field(description="Run that processed this version of the file.")
    partner_countries: str = pa.Field(
        str_matches=PARTNER_LIST,
        description="Partner countries (and regions) of the statement, sorted ISO 3166 codes "
        "joined with ';' (e.g. 'IQ;SY'), '' when none; one row each in `document_partners`.",
    )

    class Config:
        strict = True
