"""`flowplane admin set-plan EMAIL PLAN`: an operator moves a workspace to another plan (for
self-hosters: an account made before, or with another default, to `self-hosted`)."""

from __future__ import annotations

from control_plane.billing.plans import set_plan_by_email
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.errors import ControlPlaneError
from control_plane.settings import Settings


async def set_plan_command(settings: Settings, email: str, plan: str) -> tuple[int, str]:
    """(exit code, message). Applies migrations first, like `flowplane up`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if settings.run_migrations:
        await migrate(url)
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            change = await set_plan_by_email(session, email, plan)
    except ControlPlaneError as error:
        return 1, f"error: {error.detail}"
    finally:
        await engine.dispose()
    message = f"{email}: plan {change.previous} -> {change.plan}"
    if change.over_plan:
        message += f"; {len(change.over_plan)} flow(s) over the plan's limit were stopped"
    if change.released:
        message += f"; {len(change.released)} flow(s) may run again"
    return 0, message
