"""The tier table (DESIGN.md §7), the flow quota check and moving a tenant between tiers."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from control_plane.accounts.service import set_tenant_tier
from control_plane.billing.tiers import TIER_LIMITS, TIERS, check_flow_quota, tier_limits
from control_plane.errors import InvalidInput, NotFound, QuotaExceeded
from tests.control_plane.accounts.accounts_helpers import sessions, set_tier, sign_up


def test_tier_table_matches_the_design() -> None:
    assert TIERS == ("free", "paid", "pro", "enterprise", "self-hosted")
    assert set(TIER_LIMITS) == set(TIERS)
    assert [tier_limits(tier).flows for tier in TIERS] == [1, 10, None, None, None]
    assert [tier_limits(tier).executions_per_month for tier in TIERS] == [
        1_000,
        10_000,
        100_000,
        None,
        None,
    ]
    assert [tier_limits(tier).marketplace_tools for tier in TIERS] == [
        False,
        True,
        True,
        True,
        True,
    ]
    assert [tier_limits(tier).private_marketplace_tools for tier in TIERS] == [
        False,
        False,
        False,
        True,
        True,
    ]
    assert [tier_limits(tier).marketplace_installs for tier in TIERS] == [0, None, None, None, None]
    assert [tier_limits(tier).wasm_modules for tier in TIERS] == [0, 0, 10, None, None]
    assert [tier_limits(tier).project_memory_bytes for tier in TIERS] == [
        0,
        10_000_000,
        100_000_000,
        None,
        None,
    ]
    assert [tier_limits(tier).team_members for tier in TIERS] == [1, 1, 1, None, None]
    self_hosted = tier_limits("self-hosted")
    assert self_hosted.execution_retention_days is None and self_hosted.idle_stop_seconds is None
    with pytest.raises(ValueError, match="unknown tier"):
        tier_limits("platinum")


def test_flow_quota() -> None:
    check_flow_quota("free", 0)
    check_flow_quota("paid", 9)
    check_flow_quota("pro", 10_000)
    with pytest.raises(QuotaExceeded) as refused:
        check_flow_quota("free", 1)
    assert refused.value.status == 402
    assert refused.value.body() == {
        "error": "QuotaExceeded",
        "detail": refused.value.detail,
        "quota": "flows",
        "limit": 1,
        "used": 1,
        "upgrade_url": "/settings/billing",
    }
    assert "1 flow" in refused.value.detail
    with pytest.raises(QuotaExceeded):
        check_flow_quota("paid", 10)


async def test_set_tenant_tier(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, "enterprise")
    me = await client.get("/api/auth/me", headers=account.headers)
    assert me.json()["tenant"]["tier"] == "enterprise"
    async with sessions(app)() as session:
        with pytest.raises(InvalidInput) as unknown:
            await set_tenant_tier(session, account.tenant_id, "platinum")
        assert unknown.value.extra["problems"][0]["path"] == "tier"
        with pytest.raises(NotFound):
            await set_tenant_tier(session, "0" * 32, "pro")
    me = await client.get("/api/auth/me", headers=account.headers)
    assert me.json()["tenant"]["tier"] == "enterprise"
