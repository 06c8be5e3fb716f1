"""The blob store on both backends: a local directory, and S3 through boto3 against moto's
server over HTTP. Content-addressed, idempotent, verified on every read."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from control_plane.blobs import BlobCorrupted, BlobNotFound, BlobStore, blob_store_from_settings
from control_plane.blobs.local import LocalBlobStore
from control_plane.blobs.s3 import S3BlobStore
from control_plane.settings import Settings
from tests.control_plane.modules.modules_helpers import S3_BUCKET

DATA = b"\0asm\x01\0\0\0 some module bytes"
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def store(blob_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> BlobStore:
    if blob_kind == "local":
        return blob_store_from_settings(Settings(data_dir=tmp_path))
    endpoint = str(request.getfixturevalue("s3_endpoint"))
    settings = Settings(
        data_dir=tmp_path,
        blob_url=f"s3://{S3_BUCKET}/{tmp_path.name}",
        blob_endpoint_url=endpoint,
    )
    return blob_store_from_settings(settings)


def tamper(store: BlobStore, sha256: str, data: bytes) -> None:
    if isinstance(store, LocalBlobStore):
        path = store.path(sha256)
        path.chmod(0o644)
        path.write_bytes(data)
    else:
        assert isinstance(store, S3BlobStore)
        store.client.put_object(Bucket=store.bucket, Key=store.key(sha256), Body=data)


async def test_blobs_are_content_addressed_and_verified(store: BlobStore, tmp_path: Path) -> None:
    assert not await store.exists(DIGEST)
    with pytest.raises(BlobNotFound):
        await store.get(DIGEST)
    assert await store.put(DATA) == DIGEST
    assert await store.put(DATA) == DIGEST, "the same bytes are the same blob"
    assert await store.exists(DIGEST)
    assert await store.get(DIGEST) == DATA

    copy = tmp_path / "copy.wasm"
    await store.copy_to(DIGEST, copy)
    assert copy.read_bytes() == DATA
    assert copy.stat().st_mode & 0o222 == 0, "a copy handed to a pump is read-only"

    tamper(store, DIGEST, b"something else")
    with pytest.raises(BlobCorrupted):
        await store.get(DIGEST)
    with pytest.raises(BlobCorrupted):
        await store.copy_to(DIGEST, tmp_path / "tampered.wasm")

    await store.delete(DIGEST)
    await store.delete(DIGEST)  # deleting a missing blob is not an error
    assert not await store.exists(DIGEST)
    with pytest.raises(BlobNotFound):
        await store.get("../../etc/passwd")


def test_blob_url_chooses_the_store(tmp_path: Path) -> None:
    default = blob_store_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(default, LocalBlobStore) and default.root == (tmp_path / "blobs").resolve()
    directory = blob_store_from_settings(Settings(blob_url=f"file://{tmp_path}/b"))
    assert isinstance(directory, LocalBlobStore) and directory.root == tmp_path / "b"
    s3 = blob_store_from_settings(
        Settings(blob_url="s3://bucket/some/prefix/", blob_endpoint_url="http://127.0.0.1:9")
    )
    assert isinstance(s3, S3BlobStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url) == (
        "bucket",
        "some/prefix",
        "http://127.0.0.1:9",
    )
    assert s3.key(DIGEST) == f"some/prefix/sha256/{DIGEST}"
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        blob_store_from_settings(Settings(blob_url="ftp://example.com/x"))
    with pytest.raises(ValueError, match="names no bucket"):
        blob_store_from_settings(Settings(blob_url="s3://"))
