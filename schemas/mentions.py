import pandera.polars as pa
import polars as pl

from schemas._types import HEX_DOC_ID

ENTITY_KINDS = ["country", "organisation", "programme"]


class Mentions(pa.DataFrameModel):
    """One row per gazetteer match in a paragraph: who and where a statement names.

    Countries and regions use ISO 3166 codes (regions ISO 3166-2, e.g. IQ-KR); see
    config/gazetteer.toml and docs/entities.md.
    """

    doc_id: str = pa.Field(str_matches=HEX_DOC_ID, description="Document of the paragraph.")
    paragraph_index: pl.Int32 = pa.Field(ge=1, description="Paragraph within the document.")
    kind: str = pa.Field(
        isin=ENTITY_KINDS, description="country (countries and regions), organisation, programme."
    )
    entity_id: str = pa.Field(
        str_length={"min_value": 1},
        description="Gazetteer id: ISO 3166-1 alpha-2 (XK = Kosovo) or ISO 3166-2 for "
        "countries and regions, a lowercase name ('centcom', 'fms') otherwise.",
    )
    surface: str = pa.Field(str_length={"min_value": 1}, description="Matched text as written.")
    char_start: pl.Int64 = pa.Field(
        ge=0, description="Start offset in the paragraph text (characters)."
    )
    char_end: pl.Int64 = pa.Field(
        ge=1, description="End offset (exclusive) in the paragraph text (characters)."
    )

    class Config:
        strict = True
        unique = ["doc_id", "paragraph_index", "kind", "char_start"]

    @pa.dataframe_check(description="char_start < char_end")
    def span_is_not_empty(cls, data) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("char_start") < pl.col("char_end"))
