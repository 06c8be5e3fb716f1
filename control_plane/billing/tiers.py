"""The one table of tier limits (DESIGN.md §7), checked at the point of use.

`None` means unlimited (Enterprise "custom" limits are set by contract, not by this table).
Going over a limit raises `QuotaExceeded`, rendered as 402 with the limit's name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from control_plane.errors import QuotaExceeded

Tier = Literal["free", "paid", "pro", "enterprise"]
TIERS: tuple[Tier, ...] = get_args(Tier)
UPGRADE_URL = "/settings/billing"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class TierLimits:
    flows: int | None
    executions_per_month: int | None
    marketplace_tools: bool  # may install tools from the marketplace
    private_marketplace_tools: bool  # may publish tools visible to its own tenant only
    wasm_modules: int | None  # uploaded WASM modules
    project_memory_bytes: int | None  # 0: project memory is not available
    team_members: int | None
    idle_stop_seconds: int | None  # a running pump with no trigger for this long is stopped
    execution_retention_days: int | None  # executions older than this are deleted
    # triggers a flow may have waiting or running in its pump; past it triggers get 429
    # (FLOWPLANE_MAX_QUEUED_PER_FLOW overrides every tier)
    max_queued_per_flow: int


TIER_LIMITS: dict[Tier, TierLimits] = {
    "free": TierLimits(
        flows=1,
        executions_per_month=1_000,
        marketplace_tools=False,
        private_marketplace_tools=False,
        wasm_modules=0,
        project_memory_bytes=0,
        team_members=1,
        idle_stop_seconds=15 * 60,
        execution_retention_days=7,
        max_queued_per_flow=1_000,
    ),
    "paid": TierLimits(
        flows=10,
        executions_per_month=10_000,
        marketplace_tools=True,
        private_marketplace_tools=False,
        wasm_modules=0,
        project_memory_bytes=10 * MEGABYTE,
        team_members=1,
        idle_stop_seconds=60 * 60,
        execution_retention_days=30,
        max_queued_per_flow=5_000,
    ),
    "pro": TierLimits(
        flows=None,
        executions_per_month=100_000,
        marketplace_tools=True,
        private_marketplace_tools=False,
        wasm_modules=10,
        project_memory_bytes=100 * MEGABYTE,
        team_members=1,
        idle_stop_seconds=None,
        execution_retention_days=90,
        max_queued_per_flow=20_000,
    ),
    "enterprise": TierLimits(
        flows=None,
        executions_per_month=None,
        marketplace_tools=True,
        private_marketplace_tools=True,
        wasm_modules=None,
        project_memory_bytes=None,
        team_members=None,
        idle_stop_seconds=None,
        execution_retention_days=365,
        max_queued_per_flow=100_000,
    ),
}


def is_tier(value: str) -> bool:
    return value in TIER_LIMITS


def tier_limits(tier: str) -> TierLimits:
    """The limits of `tier`; a tier name not in the table is a programming error."""
    if tier not in TIER_LIMITS:
        raise ValueError(f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}")
    return TIER_LIMITS[tier]


def check_flow_quota(tier: str, existing_flows: int) -> None:
    """Raise `QuotaExceeded` when a tenant on `tier` that has `existing_flows` may not add one."""
    limit = tier_limits(tier).flows
    if limit is not None and existing_flows >= limit:
        plural = "flow" if limit == 1 else "flows"
        raise QuotaExceeded(
            f"the {tier} tier allows {limit} {plural} and this workspace has {existing_flows}; "
            "upgrade to create more, or delete a flow",
            limit="flows",
            upgrade_url=UPGRADE_URL,
        )
