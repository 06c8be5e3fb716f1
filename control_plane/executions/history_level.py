"""Per-flow history level (README "History level"): what the recorder keeps of a flow's
executions. `full` keeps everything; `summary` keeps the execution rows and only the steps
that carry token usage; `errors` deletes an execution (and its steps) once it succeeded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, delete, select

from control_plane.executions.events import StreamOwner
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow

if TYPE_CHECKING:
    from control_plane.executions.folding import StepPatch

# the history level of the batch's flows (a handful): a look-up by primary key, not a join
FLOW_LEVELS = select(Flow.id, Flow.history_level).where(
    Flow.id.in_(bindparam("ids", expanding=True))
)
DROP_EXECUTIONS = delete(Execution).where(Execution.id.in_(bindparam("ids", expanding=True)))


def history_levels(connection: Connection, owners: dict[str, StreamOwner]) -> dict[str, str]:
    """Each known execution's history level (its flow's)."""
    flow_ids = sorted({owner.flow_id for owner in owners.values()})
    if not flow_ids:
        return {}
    rows = connection.execute(FLOW_LEVELS, {"ids": flow_ids})
    by_flow = {str(flow_id): str(level) for flow_id, level in rows}
    return {ident: by_flow.get(owner.flow_id, "full") for ident, owner in owners.items()}


def keeps_step(level: str, step: StepPatch) -> bool:
    """History level "summary" keeps only the steps that carry token usage (the execution's
    usage total is summed from them); "full" and "errors" keep every step."""
    return level != "summary" or step.values.get("usage") is not None
