"""The one table of plan limits (DESIGN.md §7), checked at the point of use by `check_quota`.

`None` means unlimited (Enterprise "custom" limits are set by contract, not by this table).
`self-hosted` is the plan of every workspace while Stripe is not configured: no limits at all.
Going over a limit raises `QuotaExceeded`, rendered as 402 with the limit's name, the limit,
what is used and where to upgrade."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from control_plane.errors import QuotaExceeded

Tier = Literal["free", "paid", "pro", "enterprise", "self-hosted"]
SELF_HOSTED: Tier = "self-hosted"
TIERS: tuple[Tier, ...] = get_args(Tier)
UPGRADE_URL = "/settings/billing"
MEGABYTE = 1_000_000


@dataclass(frozen=True)
class TierLimits:
    flows: int | None
    executions_per_month: int | None
    marketplace_tools: bool  # may install tools from the marketplace
    private_marketplace_tools: bool  # may publish tools visible to its own tenant only
    marketplace_installs: int | None  # marketplace tools installed into the workspace
    wasm_modules: int | None  # uploaded WASM modules
    project_memory_bytes: int | None  # 0: project memory is not available
    team_members: int | None
    idle_stop_seconds: int | None  # a running pump with no trigger for this long is stopped
    execution_retention_days: int | None  # executions older than this are deleted
    # triggers a flow may have waiting or running in its pump; past it triggers get 429
    # (FLOWPLANE_MAX_QUEUED_PER_FLOW overrides every tier)
    max_queued_per_flow: int
    # executions past `executions_per_month` are billed as usage (Stripe meter events)
    # instead of refused
    metered_overage: bool = False


TIER_LIMITS: dict[Tier, TierLimits] = {
    "free": TierLimits(
        flows=1,
        executions_per_month=1_000,
        marketplace_tools=False,
        private_marketplace_tools=False,
        marketplace_installs=0,
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
        marketplace_installs=None,
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
        marketplace_installs=None,
        wasm_modules=10,
        project_memory_bytes=100 * MEGABYTE,
        team_members=1,
        idle_stop_seconds=None,
        execution_retention_days=90,
        max_queued_per_flow=20_000,
        metered_overage=True,
    ),
    "enterprise": TierLimits(
        flows=None,
        executions_per_month=None,
        marketplace_tools=True,
        private_marketplace_tools=True,
        marketplace_installs=None,
        wasm_modules=None,
        project_memory_bytes=None,
        team_members=None,
        idle_stop_seconds=None,
        execution_retention_days=365,
        max_queued_per_flow=100_000,
    ),
    "self-hosted": TierLimits(
        flows=None,
        executions_per_month=None,
        marketplace_tools=True,
        private_marketplace_tools=True,
        marketplace_installs=None,
        wasm_modules=None,
        project_memory_bytes=None,
        team_members=None,
        idle_stop_seconds=None,
        execution_retention_days=None,
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


LimitName = Literal[
    "flows",
    "executions_per_month",
    "marketplace_installs",
    "wasm_modules",
    "project_memory_bytes",
    "team_members",
]
# How each countable limit reads in a message: (singular, plural)
_NOUNS: dict[str, tuple[str, str]] = {
    "flows": ("flow", "flows"),
    "executions_per_month": ("execution a month", "executions a month"),
    "marketplace_installs": ("marketplace tool", "marketplace tools"),
    "wasm_modules": ("WASM module", "WASM modules"),
    "project_memory_bytes": ("byte of project memory", "bytes of project memory"),
    "team_members": ("team member", "team members"),
}
_FEATURES: dict[str, str] = {
    "flows": "flows are",
    "executions_per_month": "executions are",
    "marketplace_installs": "marketplace tools are",
    "wasm_modules": "custom WASM modules are",
    "project_memory_bytes": "project memory is",
    "team_members": "team members are",
}
_ADVICE: dict[str, str] = {
    "flows": "upgrade to create more, or delete a flow",
    "executions_per_month": "upgrade for more, or wait for next month",
    "marketplace_installs": "upgrade to install more, or uninstall a tool",
    "wasm_modules": "upgrade (Pro includes 10) to write and run your own code, or delete a module",
    "project_memory_bytes": "upgrade, or set memory.project to false in the organism",
    "team_members": "upgrade to Enterprise to add members, or remove a member",
}


def check_quota(plan: str, limit_name: LimitName, used: int, *, adding: int = 1) -> None:
    """The one quota check: raise `QuotaExceeded` (402, with `limit`, `used` and `upgrade_url`)
    when a workspace on `plan` that uses `used` of `limit_name` may not add `adding` more."""
    limits = tier_limits(plan)
    limit: int | None = getattr(limits, limit_name)
    if limit is None or used + adding <= limit:
        return
    if limit_name == "executions_per_month" and limits.metered_overage:
        return  # Pro: billed as usage beyond the included executions (billing/overage.py)
    singular, plural = _NOUNS[limit_name]
    if limit == 0:
        detail = f"{_FEATURES[limit_name]} not included in the {plan} plan"
    else:
        noun = singular if limit == 1 else plural
        detail = f"the {plan} plan allows {limit:,} {noun} and this workspace has {used:,}"
    raise QuotaExceeded(
        f"{detail}; {_ADVICE[limit_name]}",
        quota=limit_name,
        limit=limit,
        used=used,
        upgrade_url=UPGRADE_URL,
    )


def check_flow_quota(tier: str, existing_flows: int) -> None:
    """Raise `QuotaExceeded` when a tenant on `tier` that has `existing_flows` may not add one."""
    check_quota(tier, "flows", existing_flows)
