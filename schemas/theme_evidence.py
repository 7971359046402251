import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID, THEMES


class ThemeEvidence(pa.DataFrameModel):
    """One row per lexicon match: drill from a label down to the exact words."""

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document of the paragraph.")
    paragraph_index: pl.Int32 = pa.Field(ge=1, description="Paragraph within the document.")
    theme: str = pa.Field(isin=list(THEMES), description="Theme the rule belongs to.")
    phrase: str = pa.Field(str_length={"min_value": 1}, description="Matched text as written.")
    char_start: pl.Int64 = pa.Field(ge=0, description="Start offset in the paragraph text.")
    char_end: pl.Int64 = pa.Field(ge=1, description="End offset (exclusive) in the paragraph text.")
    weight: pl.Float64 = pa.Field(description="Weight the rule contributes (negative for vetoes).")
    rule: str = pa.Field(str_length={"min_value": 1}, description="Lexicon rule id that matched.")

    class Config:
        strict = True
