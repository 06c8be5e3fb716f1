"""Faults in production shape: Postgres and Redis 7 of the run's own (so they may be
restarted; never the shared ones), two uvicorn workers. Every accepted webhook ends succeeded,
none is lost or stuck, no request gets a 500, refusals carry Retry-After."""

from __future__ import annotations

from pathlib import Path

from tests.faults import scenarios
from tests.faults.servers import PostgresCluster
from tests.faults.test_faults_embedded import assert_nothing_lost


async def test_restart_of_redis(tmp_path: Path, postgres_cluster: PostgresCluster) -> None:
    setup = await scenarios.production_setup(tmp_path, postgres_cluster)
    result, extra = await scenarios.run(
        "postgres+redis7: Redis restart", setup, scenarios.restart_redis
    )
    assert_nothing_lost(result, extra)


async def test_restart_of_postgres(tmp_path: Path, postgres_cluster: PostgresCluster) -> None:
    setup = await scenarios.production_setup(tmp_path, postgres_cluster)
    result, extra = await scenarios.run(
        "postgres+redis7: Postgres restart", setup, scenarios.restart_postgres
    )
    assert_nothing_lost(result, extra)


async def test_sigkill_of_both_workers(tmp_path: Path, postgres_cluster: PostgresCluster) -> None:
    setup = await scenarios.production_setup(tmp_path, postgres_cluster)
    result, extra = await scenarios.run(
        "postgres+redis7: SIGKILL control plane", setup, scenarios.kill_control_plane
    )
    assert result.orphans == 0
    assert_nothing_lost(result, extra)
