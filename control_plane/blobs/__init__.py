"""Content-addressed blobs (WASM modules today): a local directory or S3, one interface."""

from control_plane.blobs.store import (
    BlobCorrupted,
    BlobNotFound,
    BlobStore,
    blob_store_from_settings,
    is_sha256,
    sha256_hex,
)

__all__ = [
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "blob_store_from_settings",
    "is_sha256",
    "sha256_hex",
]
