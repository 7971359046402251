import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID, THEMES


class ParagraphThemes(pa.DataFrameModel):
    """One row per paragraph and theme: the classifier's score and decision."""

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document of the paragraph.")
    paragraph_index: pl.Int32 = pa.Field(ge=1, description="Paragraph within the document.")
    theme: str = pa.Field(isin=list(THEMES), description="Theme from the codebook.")
    score: pl.Float64 = pa.Field(
        in_range={"min_value": 0.0, "max_value": 1.0}, description="Theme score in [0, 1]."
    )
    assigned: bool = pa.Field(description="True when score reaches the theme's threshold.")
    evidence: str = pa.Field(
        description="Matched phrases that support the theme, '; '-separated ('' when none)."
    )
    taxonomy_version: str = pa.Field(
        str_length={"min_value": 1}, description="Content hash of the lexicon that scored it."
    )

    class Config:
        strict = True
        unique = ["doc_id", "paragraph_index", "theme"]
