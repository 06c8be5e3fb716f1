"""`app.state.marketplace`: the platform signing key, the blob store and the operators, and
`app.state.marketplace_public_key`, which the pump orchestrator hands every pump to verify
`tool:` modules with (this service starts before the pumps')."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from control_plane.blobs import BlobStore
from control_plane.marketplace.signing import Signer


@dataclass(frozen=True)
class MarketplaceRuntime:
    signer: Signer
    blobs: BlobStore
    admin_emails: frozenset[str]


@asynccontextmanager
async def marketplace_service(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    signer = Signer.from_settings(settings)
    admins = frozenset(
        item.strip().lower() for item in settings.admin_emails.split(",") if item.strip()
    )
    app.state.marketplace = MarketplaceRuntime(signer, app.state.blobs, admins)
    # read by the pump orchestrator (started after this service) for every pump's environment
    app.state.marketplace_public_key = signer.public_key
    yield


def _runtime(request: Request) -> MarketplaceRuntime:
    runtime: MarketplaceRuntime = request.app.state.marketplace
    return runtime


Marketplace = Annotated[MarketplaceRuntime, Depends(_runtime)]
