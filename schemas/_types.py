"""Shared column types for the table contracts.

BI readers (Power BI, Tableau, Spark) choke on nanosecond or naive timestamps, so every
timestamp is UTC with microsecond precision.
"""

import pandera.engines.polars_engine as polars_engine
import pandera.polars as pa

UtcTimestamp = polars_engine.DateTime
UTC_MICROSECONDS = {"time_zone": "UTC", "time_unit": "us"}

THEMES = ("counter_isis", "equipment_sustainment", "education", "repatriation")
HEX_DOC_ID = r"^[0-9a-f]{16}$"
# ISO 3166-1 alpha-2 (or a user-assigned code such as XK), or ISO 3166-2 for a region
PARTNER_CODE = r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$"
PARTNER_LIST = r"^([A-Z]{2}(-[A-Z0-9]{1,3})?(;[A-Z]{2}(-[A-Z0-9]{1,3})?)*)?$"


def utc_timestamp(description: str, nullable: bool = False):
    return pa.Field(dtype_kwargs=UTC_MICROSECONDS, nullable=nullable, description=description)
