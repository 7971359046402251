"""A local Prefect server (API, UI, scheduler) and the checks `communique serve` makes.

Schedules need a real server: Prefect's embedded one, started when PREFECT_API_URL is
unset, lives only as long as one client and cannot schedule. The server listens on
127.0.0.1 only and keeps its SQLite database under its own PREFECT_HOME (.prefect/ in
the project by default), so it never touches a user's ~/.prefect profile.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from communique.settings import PROJECT_ROOT

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 4200
DEFAULT_HOME = PROJECT_ROOT / ".prefect"
# A health answer takes milliseconds; longer means the address is wrong or firewalled.
HEALTH_TIMEOUT_S = 3.0
# A new database runs its migrations first: ~14 s on a 2-core machine, so allow plenty.
START_TIMEOUT_S = 180.0


class ServerError(RuntimeError):
    """The server cannot be started or reached; the message says what to do."""


def api_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}/api"


def ui_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def server_command(port: int) -> list[str]:
    # The same interpreter as ours: the venv's Prefect, whatever is first on PATH.
    return [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", LOOPBACK, "--port", str(port),
        "--analytics-off",
        "--no-prompt",  # never stop on a question when started by a script
    ]  # fmt: skip


def server_env(home: Path, port: int, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["PREFECT_HOME"] = str(home)
    # Offline machines: telemetry only fills the log with connection errors.
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    # The UI asks PREFECT_API_URL where the API is: point it at this server, not at
    # whatever server the user's shell happens to name.
    env["PREFECT_API_URL"] = api_url(port)
    return env


def check_health(url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> str | None:
    """None when the API at ``url`` answers /health; otherwise what went wrong."""
    import httpx

    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if response.status_code != 200:
        return f"/health answered HTTP {response.status_code}"
    return None


def wait_until_healthy(
    url: str, timeout_s: float, process: subprocess.Popen | None = None
) -> float:
    """Poll /health until it answers; return the seconds waited."""
    started = time.monotonic()
    while True:
        if check_health(url, timeout_s=1.0) is None:
            return time.monotonic() - started
        if process is not None and process.poll() is not None:
            raise ServerError(
                f"the Prefect server exited with code {process.returncode} before it was "
                "ready; its output above says why"
            )
        if time.monotonic() - started > timeout_s:
            raise ServerError(f"the Prefect server at {url} was not healthy after {timeout_s:g} s")
        time.sleep(0.25)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return True
    return False


def require_server() -> str:
    """The API URL `communique serve` will use, once it is known to answer."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()  # the environment or the active Prefect profile
    if not url:
        raise ServerError(
            "PREFECT_API_URL is not set, and Prefect's embedded server cannot run "
            "schedules. Start a server with `communique server` and export the "
            "PREFECT_API_URL it prints."
        )
    problem = check_health(url)
    if problem is not None:
        raise ServerError(
            f"no Prefect server answers at PREFECT_API_URL={url} ({problem}). "
            "Start one with `communique server`, or fix PREFECT_API_URL."
        )
    return url


def run_server(port: int, home: Path, echo: Callable[[str], None] = print) -> int:
    """Run `prefect server start` in the foreground until it stops; return its exit code."""
    url = api_url(port)
    if port_in_use(port):
        if check_health(url) is None:
            raise ServerError(
                f"a Prefect server already runs at {ui_url(port)}; use it with "
                f"`export PREFECT_API_URL={url}`, or pick another --port"
            )
        raise ServerError(f"port {port} on {LOOPBACK} is taken; pick another --port")
    home.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(server_command(port), env=server_env(home, port))
    # A service manager stops us with SIGTERM: pass it on rather than orphan the server.
    # (Ctrl-C needs no forwarding: the terminal sends SIGINT to both processes.)
    stopping: list[int] = []

    def forward(signum: int, _frame) -> None:
        stopping.append(signum)
        process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        seconds = wait_until_healthy(url, START_TIMEOUT_S, process)
        echo(
            f"\nPrefect server ready in {seconds:.1f} s (database and settings in {home}).\n"
            f"  UI:   {ui_url(port)}\n"
            f"  In each shell that talks to it:  export PREFECT_API_URL={url}\n"
            f"  Then serve the deployments:      communique serve\n"
            "Stop the server with Ctrl-C."
        )
        return _exit_code(process.wait())
    except KeyboardInterrupt:
        # The terminal's SIGINT reached the server too: a second one would make uvicorn
        # skip its clean shutdown, so only wait (and escalate if it hangs).
        return _exit_code(_stop(process, interrupt=False))
    except ServerError:
        if stopping:  # stopped on purpose before it was ready: not an error
            return _exit_code(_stop(process, interrupt=False))
        _stop(process, interrupt=True)
        raise


def _exit_code(returncode: int) -> int:
    # uvicorn re-raises the signal it shut down on, so a clean stop by SIGTERM shows as
    # -15; report it the way a shell does (128 + signal), not as sys.exit(-15) == 241.
    return 128 - returncode if returncode < 0 else returncode


def _stop(process: subprocess.Popen, interrupt: bool, grace_s: float = 15.0) -> int:
    if interrupt and process.poll() is None:
        process.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly on SIGINT
    for escalate in (process.terminate, process.kill):
        try:
            return process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            escalate()
    return process.wait()
