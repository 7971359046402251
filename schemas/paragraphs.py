import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID


class Paragraphs(pa.DataFrameModel):
    """One row per content paragraph, in reading order."""

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document the paragraph is in.")
    paragraph_index: pl.Int32 = pa.Field(ge=1, description="1-based position in reading order.")
    text: str = pa.Field(
        str_length={"min_value": 1},
        description="Paragraph text, whitespace runs folded to one space and trimmed.",
    )
    char_start: pl.Int64 = pa.Field(
        ge=0, description="Start offset of the paragraph's block in the extracted text."
    )
    char_end: pl.Int64 = pa.Field(
        ge=1, description="End offset (exclusive) of the block in the extracted text."
    )
    n_words: pl.Int32 = pa.Field(ge=1, description="Number of whitespace-separated words.")

    class Config:
        strict = True
        unique = ["doc_id", "paragraph_index"]

    @pa.dataframe_check(description="char_start < char_end")
    def span_is_not_empty(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("char_start") < pl.col("char_end"))
