"""Table contracts: one pandera model per output table, the single source of truth.

The data dictionary (docs/data-dictionary.md) and the Parquet footers are generated from
these models, so a column is described in exactly one place.
"""

import polars as pl

from schemas._pandera import pa  # first: the models below import pandera too
from schemas.document_partners import DocumentPartners
from schemas.document_themes import DocumentThemes
from schemas.documents import Documents
from schemas.mentions import Mentions
from schemas.paragraph_themes import ParagraphThemes
from schemas.paragraphs import Paragraphs
from schemas.rejects import REJECT_REASONS, Rejects
from schemas.runs import Runs
from schemas.theme_cooccurrence import ThemeCooccurrence
from schemas.theme_evidence import ThemeEvidence
from schemas.theme_trends import ThemeTrends
from schemas.theme_trends_by_partner import ThemeTrendsByPartner

TABLES: dict[str, type[pa.DataFrameModel]] = {
    "documents": Documents,
    "paragraphs": Paragraphs,
    "paragraph_themes": ParagraphThemes,
    "theme_evidence": ThemeEvidence,
    "mentions": Mentions,
    "document_partners": DocumentPartners,
    "runs": Runs,
    "rejects": Rejects,
    # Aggregates for BI tools that read only files: recomputed from the tables above on
    # every run (tasks/aggregate.py), one part file each.
    "document_themes": DocumentThemes,
    "theme_trends": ThemeTrends,
    "theme_cooccurrence": ThemeCooccurrence,
    "theme_trends_by_partner": ThemeTrendsByPartner,
}

# Tables whose rows belong to one document: they are written in part files that share a
# name, so an incremental run can carry a whole group of parts over or rewrite it.
DOCUMENT_TABLES = (
    "documents",
    "paragraphs",
    "paragraph_themes",
    "theme_evidence",
    "mentions",
    "document_partners",
)

__all__ = ["DOCUMENT_TABLES", "REJECT_REASONS", "TABLES", "conform", "empty_frame", "polars_schema"]


def polars_schema(table: str) -> pl.Schema:
    columns = TABLES[table].to_schema().columns
    return pl.Schema({name: column.dtype.type for name, column in columns.items()})


def empty_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=polars_schema(table))


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Select the table's columns in contract order, cast to the contract's types."""
    schema = polars_schema(table)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])
