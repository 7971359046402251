import pandera.polars as pa
import polars as pl

from schemas._types import THEMES


class ThemeTrends(pa.DataFrameModel):
    """One row per publication month and theme; undated documents form the null month.

    Sum the count columns to roll months up to years; recompute shares from the sums.
    """

    month: pl.Date = pa.Field(
        nullable=True, description="First day of the publication month; null for undated."
    )
    year: pl.Int32 = pa.Field(nullable=True, description="Publication year; null for undated.")
    theme: str = pa.Field(isin=list(THEMES), description="Theme from the codebook.")
    documents_total: pl.Int64 = pa.Field(ge=1, description="Documents published in the month.")
    documents: pl.Int64 = pa.Field(
        ge=0, description="Documents of the month with at least one paragraph of the theme."
    )
    document_share: pl.Float64 = pa.Field(
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="documents / documents_total.",
    )
    paragraphs_total: pl.Int64 = pa.Field(ge=0, description="Paragraphs published in the month.")
    paragraphs: pl.Int64 = pa.Field(ge=0, description="Paragraphs of the month with the theme.")
    paragraph_share: pl.Float64 = pa.Field(
        nullable=True,
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="paragraphs / paragraphs_total; null when the month has no paragraphs.",
    )

    class Config:
        strict = True
        unique = ["month", "theme"]
