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


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API (moto's server) on 127.0.0.1, reached by s3fs through fsspec's config.

    Credentials are dummies; the endpoint is set for every ``s3://`` URL of the session
    (``FSSPEC_S3_ENDPOINT_URL``), in this process and in the processes it starts.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    patch = pytest.MonkeyPatch()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }.items():
        patch.setenv(key, value)
    import fsspec.config

    # fsspec reads FSSPEC_* variables once, at import
    fsspec.config.set_conf_env(fsspec.config.conf)
    yield endpoint
    patch.undo()
    fsspec.config.conf.get("s3", {}).pop("endpoint_url", None)
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint, request) -> str:
    """A new, empty bucket on the loopback S3 server: ``s3://<name>``."""
    import re

    import fsspec

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(name)
    fs.invalidate_cache()
    return f"s3://{name}"
