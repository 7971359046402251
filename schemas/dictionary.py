"""The data dictionary, generated from the pandera models.

`communique dictionary` writes docs/data-dictionary.md; every Parquet file carries the
same entries for its table in its footer (key ``communique.dictionary``).
"""

from __future__ import annotations

import inspect
import json
from functools import cache

from schemas import TABLES


def _check_text(check) -> str:
    stats = {k: v for k, v in (check.statistics or {}).items() if v is not None}
    if not stats:
        return check.name
    return f"{check.name}({', '.join(f'{k}={v!r}' for k, v in stats.items())})"


def table_entries(table: str) -> dict:
    schema = TABLES[table].to_schema()
    columns = []
    for name, column in schema.columns.items():
        columns.append(
            {
                "column": name,
                "type": str(column.dtype),
                "nullable": bool(column.nullable),
                "unique": bool(column.unique),
                "checks": [_check_text(c) for c in column.checks],
                "description": column.description or "",
            }
        )
    unique = schema.unique if isinstance(schema.unique, list) else []
    return {
        "table": table,
        "description": inspect.cleandoc(schema.description or TABLES[table].__doc__ or ""),
        "unique_together": unique,
        "row_checks": [check.description or check.name for check in schema.checks],
        "columns": columns,
    }


@cache
def parquet_metadata(table: str) -> dict[str, str]:
    return {"communique.dictionary": json.dumps(table_entries(table))}


def render_markdown() -> str:
    lines = [
        "# Data dictionary",
        "",
        "Generated from the pandera models in `schemas/` by `communique dictionary`;",
        "do not edit by hand. Every table is a folder of Parquet files under `out_dir`",
        "and a view of the same name in `out_dir/communique.duckdb` (see docs/bi.md).",
        "",
    ]
    for table in TABLES:
        entry = table_entries(table)
        lines += [f"## `{table}`", "", entry["description"], ""]
        if entry["unique_together"]:
            lines += [f"Unique together: {', '.join(entry['unique_together'])}.", ""]
        if entry["row_checks"]:
            lines += [f"Row checks: {'; '.join(entry['row_checks'])}.", ""]
        lines += [
            "| column | type | nullable | checks | description |",
            "|---|---|---|---|---|",
        ]
        for col in entry["columns"]:
            checks = ", ".join(col["checks"] + (["unique"] if col["unique"] else []))
            checks = checks.replace("|", "\\|")
            lines.append(
                f"| `{col['column']}` | {col['type']} | {'yes' if col['nullable'] else 'no'} "
                f"| {checks} | {col['description']} |"
            )
        lines.append("")
    return "\n".join(lines)
