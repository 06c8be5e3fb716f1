"""What the trigger path needs to know about a flow, cached for a short time.

A webhook must not cost a flow query, a tenant query and an organism parse: `FlowCatalog`
keeps each flow's tenant, tier, token hash, run state and triggers for
`trigger_flow_cache_seconds` (one load per flow at a time, unknown flows cached too). Staleness
is harmless because the admission batch re-reads each flow's token hash and run state inside
the transaction that inserts the execution (see admission.py)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.accounts.models import Tenant
from control_plane.errors import Conflict, InvalidInput
from control_plane.flows.models import Flow
from pump.keys import FlowKeys
from pump.organism import OrganismError, parse_organism

# Run states a trigger is accepted in without asking the pumps domain (a starting pump reads
# its stream once it is up). Anything else goes through `ensure_accepting`.
HOT_STATUSES = frozenset({"running", "starting"})
PARSED_ORGANISMS_KEPT = 1024


@dataclass(frozen=True)
class TriggerSpec:
    name: str
    kind: str
    target: str
    payload: Any = None
    cron: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class FlowTriggers:
    flow_id: str
    tenant_id: str
    tier: str
    webhook_token_hash: str | None
    desired_state: str
    status: str
    triggers: tuple[TriggerSpec, ...]

    @property
    def keys(self) -> FlowKeys:
        return FlowKeys(self.tenant_id, self.flow_id)

    @property
    def hot(self) -> bool:
        return is_hot(self.desired_state, self.status)

    def webhook_trigger(self, name: str | None) -> TriggerSpec:
        webhooks = [trigger for trigger in self.triggers if trigger.kind == "webhook"]
        if name is not None:
            return self._named(name, webhooks, "webhook")
        if not webhooks:
            raise Conflict(
                f"flow {self.flow_id} has no webhook trigger; add one to its organism, "
                "e.g. triggers: [{name: inbound, kind: webhook, target: <listener>}]"
            )
        return webhooks[0]

    def manual_trigger(self, name: str | None) -> TriggerSpec:
        """The named trigger (any kind: "run this schedule now"), else the first manual
        trigger, else the first trigger."""
        if name is not None:
            return self._named(name, list(self.triggers), "")
        manual = [trigger for trigger in self.triggers if trigger.kind == "manual"]
        if manual:
            return manual[0]
        if self.triggers:
            return self.triggers[0]
        raise Conflict(
            f"flow {self.flow_id} has no trigger to run; add one to its organism, "
            "e.g. triggers: [{name: run, kind: manual, target: <listener>}]"
        )

    def _named(self, name: str, candidates: list[TriggerSpec], kind: str) -> TriggerSpec:
        for trigger in candidates:
            if trigger.name == name:
                return trigger
        label = f"{kind} trigger" if kind else "trigger"
        known = ", ".join(repr(trigger.name) for trigger in candidates) or "none"
        raise InvalidInput(
            f"flow {self.flow_id} has no {label} named {name!r} (its {label}s: {known})",
            problems=[{"path": "trigger", "message": f"unknown {label} {name!r}"}],
        )


def is_hot(desired_state: str, status: str) -> bool:
    return desired_state == "running" and status in HOT_STATUSES


class FlowCatalog:
    def __init__(self, engine: AsyncEngine, ttl_seconds: float) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, FlowTriggers | None]] = {}
        self._loading: dict[str, asyncio.Future[FlowTriggers | None]] = {}
        self._organisms: OrderedDict[str, tuple[TriggerSpec, ...]] = OrderedDict()

    async def get(self, flow_id: str, max_age: float | None = None) -> FlowTriggers | None:
        """The flow, or None when it does not exist; read again when the cached entry is
        older than `max_age` (default: the cache's time to live)."""
        limit = self._ttl if max_age is None else min(max_age, self._ttl)
        cached = self._entries.get(flow_id)
        if cached is not None and time.monotonic() - cached[0] < limit:
            return cached[1]
        pending = self._loading.get(flow_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[FlowTriggers | None] = asyncio.get_running_loop().create_future()
        self._loading[flow_id] = future
        try:
            loaded = await self._load(flow_id)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        finally:
            self._loading.pop(flow_id, None)
        self._entries[flow_id] = (time.monotonic(), loaded)
        if len(self._entries) > 100_000:
            self._entries.clear()
        future.set_result(loaded)
        return loaded

    def invalidate(self, flow_id: str) -> None:
        self._entries.pop(flow_id, None)

    async def _load(self, flow_id: str) -> FlowTriggers | None:
        query = (
            select(
                Flow.tenant_id,
                Tenant.tier,
                Flow.webhook_token_hash,
                Flow.desired_state,
                Flow.status,
                Flow.organism_yaml,
            )
            .join(Tenant, Tenant.id == Flow.tenant_id)
            .where(Flow.id == flow_id)
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        tenant_id, tier, token_hash, desired_state, status, organism_yaml = row
        return FlowTriggers(
            flow_id=flow_id,
            tenant_id=tenant_id,
            tier=tier,
            webhook_token_hash=token_hash,
            desired_state=desired_state,
            status=status,
            triggers=self.triggers_of(organism_yaml),
        )

    def triggers_of(self, organism_yaml: str) -> tuple[TriggerSpec, ...]:
        digest = hashlib.sha256(organism_yaml.encode()).hexdigest()
        cached = self._organisms.get(digest)
        if cached is not None:
            self._organisms.move_to_end(digest)
            return cached
        triggers = organism_triggers(organism_yaml)
        self._organisms[digest] = triggers
        if len(self._organisms) > PARSED_ORGANISMS_KEPT:
            self._organisms.popitem(last=False)
        return triggers


def organism_triggers(organism_yaml: str) -> tuple[TriggerSpec, ...]:
    """The triggers of a stored organism (stored organisms are valid; a document that no longer
    parses has no triggers rather than failing every request)."""
    try:
        organism = parse_organism(organism_yaml)
    except OrganismError:
        return ()
    return tuple(
        TriggerSpec(
            name=trigger.name,
            kind=trigger.kind,
            target=trigger.target,
            payload=trigger.payload,
            cron=trigger.cron,
            timezone=trigger.timezone,
        )
        for trigger in organism.triggers
    )
