import os
import shutil
from pathlib import Path

import pytest

# Offline machines: no telemetry; a cold Prefect server can be slow to migrate its database.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEVSET = PROJECT_ROOT.parent / "shared" / "devset"


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server (SQLite) for every flow test of the session."""
    import prefect.settings
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield prefect.settings.PREFECT_API_URL.value()


@pytest.fixture(scope="session")
def devset() -> Path:
    if not (DEVSET / "gold.jsonl").is_file():
        pytest.skip(f"the labelled devset is not at {DEVSET}")
    return DEVSET


@pytest.fixture
def devset_raw(devset, tmp_path) -> Path:
    """A writable copy of the devset documents, to add, edit and delete files in."""
    raw = tmp_path / "raw"
    shutil.copytree(devset / "docs", raw)
    for path in raw.iterdir():
        path.chmod(0o644)
    raw.chmod(0o755)
    return raw
