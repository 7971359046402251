"""The published column names and types are a contract with every dashboard built on them.

A change to a model fails this test until tests/schema_contract.json is updated on
purpose (`python -m tests.test_schema_contract`) together with the data dictionary
(`communique dictionary`).
"""

import json
from pathlib import Path

from schemas import TABLES, polars_schema

CONTRACT = Path(__file__).with_name("schema_contract.json")


def current_contract() -> dict:
    contract = {}
    for table in TABLES:
        columns = TABLES[table].to_schema().columns
        contract[table] = [
            {"column": name, "type": str(dtype), "nullable": bool(columns[name].nullable)}
            for name, dtype in polars_schema(table).items()
        ]
    return contract


def test_the_tables_match_the_pinned_schema_contract():
    pinned = json.loads(CONTRACT.read_text())
    current = current_contract()
    assert sorted(current) == sorted(pinned), "tables were added or removed"
    for table, columns in pinned.items():
        assert current[table] == columns, (
            f"the columns of {table} changed: if that is deliberate, run "
            "`python -m tests.test_schema_contract` and `communique dictionary`"
        )


if __name__ == "__main__":
    CONTRACT.write_text(json.dumps(current_contract(), indent=2) + "\n")
    print(f"wrote {CONTRACT}")
