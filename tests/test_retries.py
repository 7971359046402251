"""Retries: transient I/O errors are retried, everything else fails at once.

Runs real Prefect tasks built with the project's `io_stage` settings (under the session's
test server) so the check covers Prefect's handling of `retry_condition_fn`, not only the
predicate.
"""

from __future__ import annotations

import errno

import pytest
from prefect import flow

from tasks.prefect_tasks import io_stage

pytestmark = pytest.mark.usefixtures("prefect_server")


def attempts_until(error: Exception, fail_times: int) -> tuple[int, str]:
    """Run an io_stage task that raises ``error`` ``fail_times`` times, then succeeds."""
    attempts = []

    @io_stage(name="flaky-io", retry_delay_seconds=0)  # the real delays (1 s, 5 s) add nothing
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) <= fail_times:
            raise error
        return "done"

    @flow
    def run() -> str:
        # The task's final state, as a plain value: a failed state returned from a flow
        # would fail the flow itself.
        return flaky(return_state=True).type.value

    final = run()
    return len(attempts), final


def test_a_transient_io_error_is_retried_until_it_clears():
    count, state = attempts_until(OSError(errno.EIO, "Input/output error"), fail_times=2)
    assert (count, state) == (3, "COMPLETED")


def test_a_transient_io_error_that_persists_fails_after_two_retries():
    count, state = attempts_until(TimeoutError("NFS server not responding"), fail_times=99)
    assert (count, state) == (3, "FAILED")


@pytest.mark.parametrize(
    "error",
    [
        FileNotFoundError(errno.ENOENT, "No such file or directory"),
        PermissionError(errno.EACCES, "Permission denied"),
        NotADirectoryError(errno.ENOTDIR, "Not a directory"),
        ValueError("a bug or bad data: retrying cannot help"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors_are_not_retried(error):
    count, state = attempts_until(error, fail_times=99)
    assert (count, state) == (1, "FAILED")
