"""Where input and output folders live: a local path or an fsspec URL.

``data/raw``, ``/srv/raw`` and ``file:///srv/raw`` are local folders; ``s3://bucket/raw``,
``gs://…``, ``abfs://…`` or ``memory://…`` are folders on another filesystem, reached
through fsspec (the protocol's package, e.g. s3fs, must be installed; its credentials and
options come from the usual places: environment, ``~/.aws``, or fsspec's own config,
e.g. ``FSSPEC_S3_ENDPOINT_URL``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

_LOCAL_PROTOCOLS = {"file", "local"}


@dataclass(frozen=True)
class Location:
    """A folder: the filesystem it is on and its path there (no protocol).

    Pickles with its filesystem (fsspec filesystems do), so Dask workers get it as is.
    """

    fs: AbstractFileSystem
    path: str

    @property
    def is_local(self) -> bool:
        protocols = self.fs.protocol
        protocols = {protocols} if isinstance(protocols, str) else set(protocols)
        return bool(protocols & _LOCAL_PROTOCOLS)

    @property
    def url(self) -> str:
        """How to write it back: the local path, or protocol://path."""
        return self.path if self.is_local else self.fs.unstrip_protocol(self.path)

    def local_path(self) -> Path:
        if not self.is_local:
            raise ValueError(f"{self.url} is not a local folder")
        return Path(self.path)

    def child(self, relative: str) -> str:
        """The path (on ``fs``) of ``relative`` below this folder."""
        return f"{self.path.rstrip('/')}/{relative}"

    def __str__(self) -> str:
        return self.url


def parse_location(value: str | os.PathLike[str]) -> Location:
    """A Location for a local path (made absolute) or an fsspec URL."""
    fs, path = url_to_fs(os.fspath(value))
    location = Location(fs, path)
    if location.is_local:
        return Location(fs, os.path.realpath(path))
    return Location(fs, path.rstrip("/"))
