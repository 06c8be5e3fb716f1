"""/api/flows/{id}/callback-settings: the signing secret and the failure notification URL."""

from __future__ import annotations

from fastapi import APIRouter, Request

from control_plane.accounts.roles import Editor
from control_plane.callbacks.outbox import validate_callback
from control_plane.callbacks.schemas import CallbackSettings, CallbackSettingsIn
from control_plane.callbacks.secret import new_sealed_secret, signing_secret
from control_plane.db import DatabaseSession
from control_plane.flows import service as flows_service

router = APIRouter(tags=["callbacks"])


async def _settings(request: Request, flow_id: str, failure_url: str | None) -> CallbackSettings:
    secret = await signing_secret(
        request.app.state.engine, request.app.state.pumps.secret_box, flow_id
    )
    return CallbackSettings(
        signing_secret=secret,
        failure_url=failure_url,
        replay_window_seconds=request.app.state.settings.callback_replay_window_seconds,
    )


@router.get(
    "/flows/{flow_id}/callback-settings",
    response_model=CallbackSettings,
    summary="The flow's callback signing secret and failure notification URL",
)
async def get_settings(
    flow_id: str, request: Request, principal: Editor, session: DatabaseSession
) -> CallbackSettings:
    flow = (await flows_service.get_flow(session, principal, flow_id)).flow
    failure_url = flow.failure_url
    await session.commit()
    return await _settings(request, flow_id, failure_url)


@router.put(
    "/flows/{flow_id}/callback-settings",
    response_model=CallbackSettings,
    summary="Set (or clear, with null) the URL called for every failed execution",
)
async def put_settings(
    flow_id: str,
    body: CallbackSettingsIn,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
) -> CallbackSettings:
    flow = (await flows_service.get_flow(session, principal, flow_id)).flow
    if body.failure_url is not None:
        validate_callback(request.app, body.failure_url, "failure_url")
    flow.failure_url = body.failure_url
    await session.commit()
    return await _settings(request, flow_id, body.failure_url)


@router.post(
    "/flows/{flow_id}/callback-settings/rotate",
    response_model=CallbackSettings,
    summary="Replace the signing secret (callbacks are signed with the new one from now on)",
)
async def rotate_secret(
    flow_id: str, request: Request, principal: Editor, session: DatabaseSession
) -> CallbackSettings:
    flow = (await flows_service.get_flow(session, principal, flow_id)).flow
    flow.signing_secret = new_sealed_secret(request.app.state.pumps.secret_box)
    failure_url = flow.failure_url
    await session.commit()
    return await _settings(request, flow_id, failure_url)
