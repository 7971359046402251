import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID, THEMES


class DocumentThemes(pa.DataFrameModel):
    """One row per document and theme (every theme, also those the document lacks)."""

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document (see `documents`).")
    published_date: pl.Date = pa.Field(
        nullable=True, description="The document's date of issue, copied for filtering."
    )
    theme: str = pa.Field(isin=list(THEMES), description="Theme from the codebook.")
    paragraphs: pl.Int32 = pa.Field(ge=0, description="Content paragraphs in the document.")
    assigned_paragraphs: pl.Int32 = pa.Field(
        ge=0, description="Paragraphs of the document assigned this theme."
    )
    share_assigned: pl.Float64 = pa.Field(
        nullable=True,
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="assigned_paragraphs / paragraphs; null when the document has none.",
    )
    max_score: pl.Float64 = pa.Field(
        nullable=True,
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="Highest paragraph score for the theme; null when no paragraph was scored.",
    )
    has_theme: bool = pa.Field(description="True when at least one paragraph is assigned.")

    class Config:
        strict = True
        unique = ["doc_id", "theme"]

    @pa.dataframe_check(description="assigned_paragraphs <= paragraphs")
    def assigned_within_paragraphs(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("assigned_paragraphs") <= pl.col("paragraphs"))
