"""The routing engine: one execution, from its trigger to its final event (DESIGN.md §4).

Messages of an execution are routed in memory, first in first out; Redis receives only what
is recorded (events, log lines, the thread buffer) through the pump's group-commit writer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pump.events import (
    MAX_FOLDED,
    SEGMENT_END_TYPES,
    EventType,
    HeldEvent,
    TriggerEntry,
    encode_data,
    fold_events,
)
from pump.flow import CompiledListener, Flow
from pump.handlers.base import (
    Cancellation,
    ExecutionInfo,
    HandlerResult,
    StepContext,
    StepError,
)
from pump.keys import EVENT_STREAM_MAXLEN, EXECUTION_STATE_TTL_SECONDS, LOG_STREAM_MAXLEN
from pump.waiting import Continuation, Parked, wait_route

logger = logging.getLogger("pump.engine")

LOG_LEVELS = ("debug", "info", "warning", "error")


class ExecutionFailure(Exception):
    def __init__(self, reason: str, message: str, *, listener: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.listener = listener


@dataclass(slots=True)
class ExecutionOutcome:
    execution_id: str
    status: str  # "completed" | "failed" | "waiting"
    steps: int
    duration_ms: float
    outputs: list[Any] = field(default_factory=list)
    reason: str | None = None
    error: str | None = None


class Execution:
    def __init__(self, flow: Flow, entry: TriggerEntry, *, reclaimed: bool = False) -> None:
        self.flow = flow
        self.entry = entry
        self.reclaimed = reclaimed
        self.info = ExecutionInfo(
            execution_id=entry.execution_id,
            trigger=entry.trigger,
            tenant_id=flow.keys.tenant_id,
            flow_id=flow.keys.flow_id,
            started_at=time.time(),
        )
        self.steps = 0
        self.visits: dict[str, int] = {}
        self.outputs: list[Any] = []
        self.thread: list[dict[str, Any]] = []
        self._buffer_key = flow.keys.buffer(entry.execution_id)
        self._unsaved: list[str] = []  # thread entries not yet pushed to the Redis buffer
        self._buffer_written = False
        self._queue: deque[tuple[str, Any]] = deque()
        self.cancellation = Cancellation()
        # Events not yet queued on the writer: they go as one folded entry before a step that
        # waits on I/O and at the end of the run (pump.events.fold_events).
        self._held: list[HeldEvent] = []

    async def run(self) -> ExecutionOutcome:
        """Route the trigger's payload until nothing is in flight; queue the final event,
        the finished marker and the buffer deletion on the writer (the caller syncs)."""
        try:
            return await self._run()
        finally:
            self._write_held()  # a run stopped half-way (the pump stopping) writes what it did

    async def _run(self) -> ExecutionOutcome:
        flow, entry = self.flow, self.entry
        started = time.perf_counter()
        if self.reclaimed:
            flow.writer.send("DEL", self._buffer_key)  # leftovers of the dead predecessor's run
        started_data: dict[str, Any] = {
            "trigger": entry.trigger,
            "target": entry.target,
            "payload": entry.payload,
        }
        if self.reclaimed:
            started_data["resumed"] = True  # a dead pump's execution, run again from its trigger
        if entry.resume is not None:
            started_data["resumed_from_wait"] = entry.resume.get("wait_id")
        self._emit("execution.started", started_data)
        resumed = " (run again after its pump died)" if self.reclaimed else ""
        self._log_line(
            "info", f"execution started by trigger {entry.trigger!r} at {entry.target!r}{resumed}"
        )
        reason: str | None = None
        error: str | None = None
        failed_listener: str | None = None
        parked: Parked | None = None
        try:
            async with asyncio.timeout(flow.organism.limits.timeout_seconds):
                if entry.resume is not None:
                    self._continue_after_wait(entry.resume)
                else:
                    self._queue.append((entry.target, entry.payload))
                await self._route()
        except Parked as waiting:
            parked = waiting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not self.cancellation.requested or task is None or task.uncancel() > 0:
                raise  # the pump is stopping: not a cancel of this execution
            reason, error = "cancelled", "the execution was cancelled"
        except ExecutionFailure as failure:
            reason, error, failed_listener = failure.reason, failure.message, failure.listener
        except TimeoutError:
            reason = "timeout"
            error = (
                "the execution exceeded limits.timeout_seconds "
                f"({flow.organism.limits.timeout_seconds:g} s)"
            )
        except Exception as unexpected:  # a pump bug must fail one execution, not the pump
            logger.exception("execution %s crashed", entry.execution_id)
            reason, error = "internal_error", f"{type(unexpected).__name__}: {unexpected}"
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        if parked is not None:
            self._park(parked, duration_ms)
            status = "waiting"
        elif reason is None:
            self._emit(
                "execution.completed",
                {"outputs": self.outputs, "steps": self.steps, "duration_ms": duration_ms},
            )
            self._log_line("info", f"execution completed: {self.steps} steps in {duration_ms:g} ms")
            status = "completed"
        else:
            error = flow.redactor.text(error or reason)
            data: dict[str, Any] = {"reason": reason, "error": error}
            if failed_listener is not None:
                data["listener"] = failed_listener
            data.update(steps=self.steps, duration_ms=duration_ms)
            self._emit("execution.failed", data)
            self._log_line(
                "error", f"execution failed ({reason}): {error}", listener=failed_listener
            )
            status = "failed"
        if self._buffer_written or self.reclaimed or entry.resume is not None:
            flow.writer.send("DEL", self._buffer_key)
        flow.writer.send(
            "SET", flow.keys.execution_state(entry.run_key), status,
            "EX", EXECUTION_STATE_TTL_SECONDS,
        )  # fmt: skip
        return ExecutionOutcome(
            execution_id=entry.execution_id,
            status=status,
            steps=self.steps,
            duration_ms=duration_ms,
            outputs=self.outputs,
            reason=reason,
            error=error,
        )

    async def _route(self) -> None:
        flow = self.flow
        max_steps = flow.organism.limits.max_steps
        queue = self._queue
        while queue:
            target, payload = queue.popleft()
            compiled = flow.listeners.get(target)
            if compiled is None:
                raise ExecutionFailure(
                    "routing_error", f"no listener named {target!r} in this flow"
                )
            self.steps += 1
            step = self.steps
            if step > max_steps:
                raise ExecutionFailure(
                    "max_steps_exceeded",
                    f"the execution exceeded limits.max_steps ({max_steps}) at listener {target!r}",
                    listener=target,
                )
            visits = self.visits[target] = self.visits.get(target, 0) + 1
            limit = compiled.listener.max_iterations
            if limit is not None and visits > limit:
                raise ExecutionFailure(
                    "max_iterations_exceeded",
                    f"listener {target!r} was visited more than its max_iterations ({limit})",
                    listener=target,
                )
            self._emit(
                "step.started",
                {"listener": target, "handler": compiled.handler_name, "input": payload},
                step=step,
                listener=target,
            )
            if not compiled.pure:
                self._write_held()  # what ran so far is recorded before the step's side effects
                if self._unsaved:
                    self._save_thread()
            began = time.perf_counter()
            try:
                result = await self._invoke(compiled, step, payload)
                route = self._route_of(compiled, result)
            except StepError as failure:
                message = flow.redactor.text(failure.message)
                self._emit(
                    "step.failed",
                    {
                        "error": message,
                        "reason": failure.reason,
                        "duration_ms": _since(began),
                    },
                    step=step,
                    listener=target,
                )
                self._log_line(
                    "error",
                    f"step {step} {target!r} failed ({failure.reason}): {message}",
                    step=step,
                    listener=target,
                )
                handler_of_errors = compiled.listener.on_error
                if handler_of_errors is None:
                    raise ExecutionFailure(failure.reason, message, listener=target) from None
                error_payload = {
                    "error": {"reason": failure.reason, "message": message, "listener": target},
                    "payload": payload,
                }
                queue.append((handler_of_errors, error_payload))
                self._emit(
                    "message.routed",
                    {"source": target, "target": handler_of_errors, "on_error": True},
                    step=step,
                    listener=target,
                )
                continue
            if result.wait is not None:
                raise Parked(step, target, payload, result.wait)
            completed: dict[str, Any] = {
                "output": result.payload,
                "duration_ms": _since(began),
                "routed_to": route,
            }
            if result.usage is not None:
                completed["usage"] = result.usage
            self._emit("step.completed", completed, step=step, listener=target)
            self._record(step, compiled, result)
            if compiled.is_output:
                self.outputs.append(result.payload)
            self._send(step, target, route, result.payload)

    def _send(self, step: int, source: str, route: list[str], payload: Any) -> None:
        for peer in route:
            self._queue.append((peer, payload))
            self._emit(
                "message.routed", {"source": source, "target": peer}, step=step, listener=source
            )

    def _park(self, parked: Parked, duration_ms: float) -> None:
        """The wait step ends this run; the control plane keeps the continuation."""
        state = Continuation(self._queue, self.visits, self.steps, self.outputs, self.thread)
        data = state.waiting_data(parked, duration_ms)
        self._emit("execution.waiting", data, step=parked.step, listener=parked.listener)

    def _continue_after_wait(self, resume: dict[str, Any]) -> None:
        """Restore a resume entry's continuation and complete its wait step."""
        state = Continuation.of_resume(resume)
        self._queue, self.visits, self.steps = state.queue, state.visits, state.steps
        self.outputs, self.thread = state.outputs, state.thread
        self._unsaved = [encode_data(item) for item in self.thread]
        step, listener = int(resume.get("step") or 0), str(resume.get("listener") or "")
        compiled = self.flow.listeners.get(listener)
        if compiled is None:
            raise ExecutionFailure(
                "routing_error", f"the waiting listener {listener!r} is no longer in this flow"
            )
        route = wait_route(compiled, str(resume.get("outcome")))
        if route is None:
            raise ExecutionFailure("wait_timeout", "the wait timed out", listener=listener)
        completed = {"output": self.entry.payload, "duration_ms": 0.0, "routed_to": route}
        self._emit("step.completed", completed, step=step, listener=listener)
        self._record(step, compiled, HandlerResult(self.entry.payload))
        self._send(step, listener, route, self.entry.payload)

    async def _invoke(self, compiled: CompiledListener, step: int, payload: Any) -> HandlerResult:
        context = StepContext(
            execution=self.info,
            step=step,
            listener=compiled.listener,
            thread=self.thread,
            log=lambda level, message: self.log(level, message, step=step, listener=compiled.name),
            cancellation=self.cancellation,
        )
        timeout = compiled.listener.timeout_seconds
        try:
            if timeout is None:
                return await compiled.handler(context, payload)
            try:
                async with asyncio.timeout(timeout):
                    return await compiled.handler(context, payload)
            except TimeoutError:
                raise StepError(
                    "timeout",
                    f"listener {compiled.name!r} exceeded its timeout_seconds ({timeout:g} s)",
                ) from None
        except StepError:
            raise
        except Exception as error:
            logger.exception("handler of %r crashed", compiled.name)
            raise StepError("handler_error", f"{type(error).__name__}: {error}") from error

    @staticmethod
    def _route_of(compiled: CompiledListener, result: HandlerResult) -> list[str]:
        if result.route is None:
            return compiled.peer_list
        route = list(dict.fromkeys(result.route))
        outside = [name for name in route if name not in compiled.peers]
        if outside:
            raise StepError(
                "routing_error",
                f"listener {compiled.name!r} may send only to its peers {compiled.peer_list}; "
                f"it chose {outside}",
            )
        return route

    def _record(self, step: int, compiled: CompiledListener, result: HandlerResult) -> None:
        entry: dict[str, Any] = {
            "step": step,
            "listener": compiled.name,
            "handler": compiled.handler_name,
            "output": result.payload,
        }
        if result.conversation is not None:
            entry["conversation"] = result.conversation
        self.thread.append(entry)
        self._unsaved.append(encode_data(self.flow.redactor.value(entry)))

    def _save_thread(self) -> None:
        """Push the thread's new entries to the Redis buffer. Done before a step that waits on
        I/O, so the buffer is in Redis whenever the execution is; an execution that never
        waits ends (and would delete the buffer) in the same write batch, so it skips it."""
        self.flow.writer.send("RPUSH", self._buffer_key, *self._unsaved)
        self._unsaved.clear()
        self._buffer_written = True

    def log(self, level: str, message: str, *, step: int | None, listener: str | None) -> None:
        """A handler's log line: an event of the execution and a line of the live logs."""
        level = level if level in LOG_LEVELS else "info"
        message = self.flow.redactor.text(message)
        self._emit("log", {"level": level, "message": message}, step=step, listener=listener)
        self._log_line(level, message, step=step, listener=listener)

    def _log_line(
        self, level: str, message: str, *, step: int | None = None, listener: str | None = None
    ) -> None:
        """A line of `...:logs` tagged with this execution (the editor filters by it)."""
        message = self.flow.redactor.text(message)
        line = {
            "ts": repr(time.time()),
            "level": level,
            "message": message,
            "execution_id": self.entry.execution_id,
        }
        if listener is not None:
            line["listener"] = listener
        if step is not None:
            line["step"] = str(step)
        self.flow.writer.xadd(self.flow.keys.logs, line, maxlen=LOG_STREAM_MAXLEN)

    def _emit(
        self,
        type: EventType,
        data: dict[str, Any],
        *,
        step: int | None = None,
        listener: str | None = None,
    ) -> None:
        redactor = self.flow.redactor
        if redactor.active:
            data = redactor.value(data)
        step_text = None if step is None else str(step)
        held = self._held
        held.append((type, repr(time.time()), step_text, listener, encode_data(data)))
        if type in SEGMENT_END_TYPES or len(held) > MAX_FOLDED:
            self._write_held()

    def _write_held(self) -> None:
        """Queue the held events on the writer as one entry."""
        if self._held:
            self.flow.writer.xadd(
                self.flow.keys.events,
                fold_events(self.entry.execution_id, self._held),
                maxlen=EVENT_STREAM_MAXLEN,
            )
            self._held = []


def _since(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)
