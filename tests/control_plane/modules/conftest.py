"""Module tests run against both blob stores: the local directory and S3 (moto's server over
HTTP, with the real boto3 client)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from control_plane.settings import Settings
from tests.control_plane.modules.modules_helpers import S3_BUCKET, modules_settings

AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "flowplane-test",
    "AWS_SECRET_ACCESS_KEY": "flowplane-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on an ephemeral loopback port, with one bucket."""
    saved = {name: os.environ.get(name) for name in AWS_ENVIRONMENT}
    os.environ.update(AWS_ENVIRONMENT)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=S3_BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(params=["local", "s3"])
def blob_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def blob_settings(settings: Settings, blob_kind: str, request: pytest.FixtureRequest) -> Settings:
    """The test settings with the blob store of `blob_kind` (a fresh S3 prefix per test)."""
    if blob_kind == "local":
        return settings
    endpoint = str(request.getfixturevalue("s3_endpoint"))
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    return settings.model_copy(
        update={"blob_url": f"s3://{S3_BUCKET}/{prefix}", "blob_endpoint_url": endpoint}
    )


@pytest.fixture
def module_app_settings(blob_settings: Settings) -> Settings:
    return modules_settings(blob_settings)
