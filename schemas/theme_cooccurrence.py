import pandera.polars as pa
import polars as pl

from schemas._types import THEMES


class ThemeCooccurrence(pa.DataFrameModel):
    """One row per unordered pair of themes: how often both are assigned to one paragraph."""

    theme_a: str = pa.Field(
        isin=list(THEMES), description="First theme of the pair (alphabetically first)."
    )
    theme_b: str = pa.Field(isin=list(THEMES), description="Second theme of the pair.")
    paragraphs: pl.Int64 = pa.Field(ge=0, description="Paragraphs assigned both themes.")
    documents: pl.Int64 = pa.Field(
        ge=0, description="Documents with at least one paragraph assigned both themes."
    )

    class Config:
        strict = True
        unique = ["theme_a", "theme_b"]

    @pa.dataframe_check(description="theme_a < theme_b")
    def pair_is_ordered(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("theme_a") < pl.col("theme_b"))
