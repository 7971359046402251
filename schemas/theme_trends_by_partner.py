import pandera.polars as pa
import polars as pl

from schemas._types import PARTNER_CODE, THEMES


class ThemeTrendsByPartner(pa.DataFrameModel):
    """One row per partner country, publication month and theme (`theme_trends` split by
    `document_partners`); undated documents form the null month. A document with two
    partners counts for both.

    Sum the count columns to roll months up to years; recompute shares from the sums.
    """

    country_code: str = pa.Field(
        str_matches=PARTNER_CODE, description="Partner country or region code."
    )
    country_name: str = pa.Field(description="Partner country or region name.")
    month: pl.Date = pa.Field(
        nullable=True, description="First day of the publication month; null for undated."
    )
    year: pl.Int32 = pa.Field(nullable=True, description="Publication year; null for undated.")
    theme: str = pa.Field(isin=list(THEMES), description="Theme from the codebook.")
    documents_total: pl.Int64 = pa.Field(
        ge=1, description="Documents of the month with this partner."
    )
    documents: pl.Int64 = pa.Field(
        ge=0, description="Of those, documents with at least one paragraph of the theme."
    )
    document_share: pl.Float64 = pa.Field(
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="documents / documents_total.",
    )
    paragraphs_total: pl.Int64 = pa.Field(
        ge=0, description="Paragraphs of the month's documents with this partner."
    )
    paragraphs: pl.Int64 = pa.Field(ge=0, description="Of those, paragraphs with the theme.")
    paragraph_share: pl.Float64 = pa.Field(
        nullable=True,
        in_range={"min_value": 0.0, "max_value": 1.0},
        description="paragraphs / paragraphs_total; null when the month has no paragraphs.",
    )

    class Config:
        strict = True
        unique = ["country_code", "month", "theme"]
