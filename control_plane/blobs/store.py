"""The blob store's contract and its factory (`BLOB_URL`).

A blob is immutable and named by the sha256 of its bytes, so writing the same bytes twice is
one blob, and every read is verified against its name: a blob changed behind the store's back
is refused (`BlobCorrupted`), never served."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

from control_plane.settings import Settings

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobNotFound(Exception):
    pass


class BlobCorrupted(Exception):
    """The stored bytes do not hash to the blob's name."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_sha256(value: str) -> bool:
    return SHA256.match(value) is not None


def verified(sha256: str, data: bytes) -> bytes:
    actual = sha256_hex(data)
    if actual != sha256:
        raise BlobCorrupted(f"blob {sha256} holds bytes hashing to {actual}")
    return data


class BlobStore(Protocol):
    kind: str  # "local" or "s3"

    async def put(self, data: bytes) -> str:
        """Store `data` (idempotent); returns its sha256."""

    async def get(self, sha256: str) -> bytes:
        """The verified bytes; `BlobNotFound`, `BlobCorrupted`."""

    async def exists(self, sha256: str) -> bool: ...

    async def delete(self, sha256: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""

    async def copy_to(self, sha256: str, path: Path) -> None:
        """Write the verified blob to the local file `path` (a hard link where possible)."""

    def describe(self) -> dict[str, Any]:
        """Where blobs live, for `/health` (never a credential)."""


def blob_store_from_settings(settings: Settings) -> BlobStore:
    """`BLOB_URL`: empty (`<data_dir>/blobs`), a directory or `file://` URL, or
    `s3://bucket/prefix` (credentials and region from boto3's usual sources;
    `FLOWPLANE_BLOB_ENDPOINT_URL` for S3-compatible stores)."""
    url = settings.blob_url.strip()
    if url.startswith("s3://"):
        from control_plane.blobs.s3 import S3BlobStore

        return S3BlobStore.from_url(url, endpoint_url=settings.blob_endpoint_url or None)
    from control_plane.blobs.local import LocalBlobStore

    if not url:
        return LocalBlobStore(settings.data_dir / "blobs")
    if url.startswith("file://"):
        return LocalBlobStore(Path(url.removeprefix("file://")))
    if "://" in url:
        raise ValueError(f"BLOB_URL {url!r}: use a directory, file:///path or s3://bucket/prefix")
    return LocalBlobStore(Path(url))
