"""Start-up races: several processes migrating one empty Postgres database at once, several
creating the secrets key at once, and `flowplane up --workers 2` on an empty database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.harness import ROOT, ControlPlane
from tests.faults.servers import PostgresCluster, free_port

MIGRATE = """
import asyncio, sys, time
from control_plane.db import migrate
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # start together
asyncio.run(migrate(sys.argv[1]))
"""
MAKE_KEY = """
import sys, time
from pathlib import Path
from control_plane.pumps.secrets import SecretBox
from control_plane.settings import Settings
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
box = SecretBox.from_settings(Settings(data_dir=Path(sys.argv[1])))
print(box.open(box.seal("proof")), Path(sys.argv[1], "secrets.key").read_text())
"""


def run_together(script: str, argument: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    start_at = str(time.time() + 8.0)  # after every interpreter has imported what it needs
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, argument, start_at],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


async def test_migrations_run_once_whatever_the_number_of_processes(
    postgres_cluster: PostgresCluster,
) -> None:
    url = await postgres_cluster.create_database("race_migrations")
    results = await asyncio.to_thread(
        run_together, MIGRATE, url.replace("postgresql://", "postgresql+asyncpg://"), 4
    )
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]


def test_the_secrets_key_is_created_once_by_racing_processes(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    results = run_together(MAKE_KEY, str(directory), 4)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
    outputs = {result.stdout for result in results}
    assert len(outputs) == 1, outputs  # one key, the one on disk, for every process
    assert outputs.pop().startswith("proof ")
    assert (directory / "secrets.key").stat().st_mode & 0o777 == 0o600
    assert [path.name for path in directory.iterdir()] == ["secrets.key"]


async def test_two_workers_start_on_an_empty_postgres_database(
    postgres_cluster: PostgresCluster, redis_url: str, tmp_path: Path
) -> None:
    if not redis_url.startswith("redis://127.0.0.1:6379"):
        pytest.skip("two workers need a Redis server (REDIS_URL), not the embedded one")
    url = await postgres_cluster.create_database("race_workers")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FLOWPLANE_") and name not in ("DATABASE_URL", "REDIS_URL")
    }
    environment.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        FLOWPLANE_DATA_DIR=str(tmp_path / "data"),
        FLOWPLANE_LOG_LEVEL="WARNING",
        FLOWPLANE_PUMP_WARM_STANDBY="0",
    )
    plane = ControlPlane(environment, tmp_path / "data", workers=2, port=free_port())
    (tmp_path / "data").mkdir()
    await plane.start()
    try:
        assert plane.process is not None and plane.process.returncode is None
        assert (tmp_path / "data" / "secrets.key").exists()
    finally:
        await plane.stop()
    log = (tmp_path / "control-plane-1.log").read_text()
    assert "UniqueViolation" not in log and "Traceback" not in log, log[-3000:]
