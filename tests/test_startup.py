"""What a run imports at start-up: every run pays it, a one-statement run mostly that.

Checked in a fresh interpreter, as `communique` starts.
"""

from __future__ import annotations

import json
import subprocess
import sys


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_help_imports_neither_prefect_nor_polars():
    loaded = modules_after(
        "from click.testing import CliRunner\n"
        "from communique.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0"
    )
    assert not {"prefect", "polars", "pandera", "duckdb"} & loaded


def test_the_flow_does_not_import_pandas_or_hypothesis():
    # pandera imports both when they are installed (the dev extra installs them); the
    # polars models do not need them, and they cost 0.5-1 s of every run.
    loaded = modules_after(
        "import flows.process_statements\n"
        "from schemas import empty_frame\n"
        "from tasks.validate import validate_table\n"
        "validate_table('rejects', empty_frame('rejects'))"
    )
    assert "pandera" in loaded
    assert not {"pandas", "hypothesis"} & loaded
