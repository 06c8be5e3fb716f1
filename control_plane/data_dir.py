"""The data directory (`FLOWPLANE_DATA_DIR`) holds the SQLite database, the secrets key, the
metrics token, the embedded Redis' files, blobs and pump logs: nothing in it is for other
users of the host.

- The directory is 0700; when the control plane runs as root it is 0711 instead (traversable,
  not listable): pumps and module builds run as an unprivileged uid and, without bubblewrap,
  open their own staged files by path (`pump-modules/<flow>-<nonce>/`, `builds/<random>/`,
  whose names they are given). Nothing else in it is readable by them.
- Its secret files (the database and its journal, `secrets.key`, `metrics.token`) are 0600,
  and the directories holding other people's data (`blobs`, `redis`, `pumps`) are 0700."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_FILES = (
    "flowplane.db",
    "flowplane.db-wal",
    "flowplane.db-shm",
    "flowplane.db-journal",
    "secrets.key",
    "metrics.token",
)
PRIVATE_DIRECTORIES = ("blobs", "redis", "pumps")


def data_dir_mode() -> int:
    return 0o711 if os.geteuid() == 0 else 0o700


def prepare_data_dir(path: Path) -> None:
    """Create the data directory, or tighten an existing one this process owns."""
    path.mkdir(parents=True, exist_ok=True, mode=data_dir_mode())
    tighten(path)


def tighten(path: Path) -> None:
    _chmod_own(path, data_dir_mode())
    for name in PRIVATE_DIRECTORIES:
        directory = path / name
        directory.mkdir(exist_ok=True, mode=0o700)
        _chmod_own(directory, 0o700)
    for name in PRIVATE_FILES:
        _chmod_own(path / name, 0o600)


def _chmod_own(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        info = path.stat()
        if info.st_uid == os.geteuid() and (info.st_mode & 0o777) != mode:
            path.chmod(mode)
