import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID, PARTNER_CODE


class DocumentPartners(pa.DataFrameModel):
    """One row per document and partner country: the countries other than the issuer
    that the statement is about (rule in docs/entities.md); `documents.partner_countries`
    holds the same codes joined with ';'."""

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document (see `documents`).")
    country_code: str = pa.Field(
        str_matches=PARTNER_CODE,
        description="ISO 3166-1 alpha-2 code (XK = Kosovo), or ISO 3166-2 for a region (IQ-KR).",
    )
    country_name: str = pa.Field(description="Country or region name from the gazetteer.")
    mentions: pl.Int32 = pa.Field(
        ge=0,
        description="Mentions in the content paragraphs that count for the country (its "
        "names, its regions, its organisations such as the SDF for Syria).",
    )
    paragraphs: pl.Int32 = pa.Field(
        ge=0, description="Content paragraphs with at least one such mention."
    )
    in_title: bool = pa.Field(description="True when the title names the country.")

    class Config:
        strict = True
        unique = ["doc_id", "country_code"]
