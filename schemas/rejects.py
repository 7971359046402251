import pandera.polars as pa

from schemas._types import UtcTimestamp, utc_timestamp

REJECT_REASONS = [
    "unsupported_format",
    "too_large",
    "hidden_file",
    "symlink_outside_raw_dir",
    "symlink_loop",
    "not_a_regular_file",
    "undecodable_name",
    "unreadable",
    "empty_file",
    "binary_content",
    "no_text",
    "extract_failed",
    "validation_failed",
]


class Rejects(pa.DataFrameModel):
    """One row per file below raw_dir that did not become a document, and why."""

    run_id: str = pa.Field(description="Run that saw the file.")
    source_path: str = pa.Field(unique=True, description="Path relative to raw_dir.")
    reason: str = pa.Field(isin=REJECT_REASONS, description="Machine-readable reason code.")
    detail: str = pa.Field(description="Human-readable explanation.")
    seen_at: UtcTimestamp = utc_timestamp("When the run looked at the file.")

    class Config:
        strict = True
