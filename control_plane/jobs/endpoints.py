"""/api/flows/{id}/schedules: one-off jobs (at a time, or after a delay)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.jobs import service
from control_plane.jobs.schemas import JobIn, JobOut, JobPage

router = APIRouter(tags=["schedules"])


@router.post(
    "/flows/{flow_id}/schedules",
    response_model=JobOut,
    status_code=status.HTTP_201_CREATED,
    summary="Fire a trigger once, at a time or after a delay",
    responses={200: {"description": "a repeated idempotency_key: the first job", "model": JobOut}},
)
async def create_job(
    flow_id: str,
    body: JobIn,
    request: Request,
    response: Response,
    principal: Editor,
    session: DatabaseSession,
) -> JobOut:
    job, created = await service.create_job(request.app, session, principal, flow_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return JobOut.model_validate(job)


@router.get("/flows/{flow_id}/schedules", response_model=JobPage, summary="One-off jobs")
async def list_jobs(
    flow_id: str,
    principal: Viewer,
    session: DatabaseSession,
    status_filter: Annotated[
        str | None, Query(alias="status", description="pending | fired | cancelled | failed")
    ] = None,
) -> JobPage:
    jobs = await service.list_jobs(session, principal, flow_id, status_filter)
    return JobPage(items=[JobOut.model_validate(job) for job in jobs])


@router.get("/flows/{flow_id}/schedules/{job_id}", response_model=JobOut, summary="One job")
async def get_job(flow_id: str, job_id: str, principal: Viewer, session: DatabaseSession) -> JobOut:
    return JobOut.model_validate(await service.get_job(session, principal, flow_id, job_id))


@router.delete(
    "/flows/{flow_id}/schedules/{job_id}",
    response_model=JobOut,
    summary="Cancel a pending job: it never fires",
    responses={409: {"description": "the job fired, failed or is firing already"}},
)
async def cancel_job(
    flow_id: str, job_id: str, principal: Editor, session: DatabaseSession
) -> JobOut:
    return JobOut.model_validate(await service.cancel_job(session, principal, flow_id, job_id))
