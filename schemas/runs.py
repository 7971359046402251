import pandera.polars as pa
import polars as pl

from schemas._types import UtcTimestamp, utc_timestamp


class Runs(pa.DataFrameModel):
    """One row per pipeline run, successful or not."""

    run_id: str = pa.Field(unique=True, description="Pipeline run id (UTC start time + suffix).")
    flow_run_id: str = pa.Field(nullable=True, description="Prefect flow run id.")
    started_at: UtcTimestamp = utc_timestamp("When the run started.")
    finished_at: UtcTimestamp = utc_timestamp("When the run finished.")
    status: str = pa.Field(isin=["completed", "failed"], description="Outcome of the run.")
    full_refresh: bool = pa.Field(description="True when every file was reprocessed.")
    files_seen: pl.Int64 = pa.Field(ge=0, description="Files found below raw_dir.")
    documents_written: pl.Int64 = pa.Field(ge=0, description="New or changed documents.")
    documents_unchanged: pl.Int64 = pa.Field(ge=0, description="Documents carried over as is.")
    documents_deleted: pl.Int64 = pa.Field(ge=0, description="Documents whose file is gone.")
    files_rejected: pl.Int64 = pa.Field(ge=0, description="Files that became rejects.")
    paragraphs_total: pl.Int64 = pa.Field(
        ge=0, description="Paragraphs in the tables after the run."
    )
    taxonomy_version: str = pa.Field(nullable=True, description="Lexicon content hash used.")
    error: str = pa.Field(nullable=True, description="Why the run failed; null when it completed.")

    class Config:
        strict = True
