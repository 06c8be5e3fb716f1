"""Blobs in S3 (or an S3-compatible store) through boto3: `s3://bucket/prefix` holds
`<prefix>/sha256/<sha256>`. boto3 is synchronous, so every call runs in a worker thread.
Credentials and region come from boto3's usual sources (AWS_* variables, instance role)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from control_plane.blobs.store import BlobNotFound, is_sha256, sha256_hex, verified

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    kind = "s3"

    def __init__(self, bucket: str, prefix: str = "", *, endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10)
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    @classmethod
    def from_url(cls, url: str, *, endpoint_url: str | None = None) -> S3BlobStore:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ValueError(f"BLOB_URL {url!r} names no bucket (s3://bucket/prefix)")
        return cls(bucket, prefix, endpoint_url=endpoint_url)

    def key(self, sha256: str) -> str:
        if not is_sha256(sha256):
            raise BlobNotFound(f"{sha256!r} is not a sha256")
        return f"{self.prefix}/sha256/{sha256}" if self.prefix else f"sha256/{sha256}"

    async def put(self, data: bytes) -> str:
        sha256 = sha256_hex(data)
        if not await self.exists(sha256):
            await asyncio.to_thread(
                self.client.put_object,
                Bucket=self.bucket,
                Key=self.key(sha256),
                Body=data,
                ContentType="application/octet-stream",
            )
        return sha256

    async def get(self, sha256: str) -> bytes:
        return verified(sha256, await asyncio.to_thread(self._read, sha256))

    def _read(self, sha256: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as error:
            if _missing(error):
                raise BlobNotFound(f"blob {sha256} is not stored") from None
            raise
        body: bytes = response["Body"].read()
        return body

    async def exists(self, sha256: str) -> bool:
        try:
            await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self.key(sha256)
            )
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self.key(sha256))

    async def copy_to(self, sha256: str, path: Path) -> None:
        data = await self.get(sha256)
        await asyncio.to_thread(path.write_bytes, data)
        await asyncio.to_thread(path.chmod, 0o444)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "endpoint_url": self.endpoint_url,
        }


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in MISSING_CODES
