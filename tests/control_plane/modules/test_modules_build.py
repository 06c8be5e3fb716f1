"""The build sandbox: no network, a wall-time limit that kills the compiler, and sources written
against the ABI alone (no SDK import) still build to modules that import only `flowplane`."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from control_plane.modules.builder import ModuleBuilder
from control_plane.modules.confinement import run_confined
from control_plane.modules.wasm_check import inspect_wasm
from control_plane.settings import Settings
from tests.control_plane.modules.modules_helpers import PLAIN_ABI_SOURCE

CONNECT = """
const net = require("node:net");
const socket = net.connect({host: "127.0.0.1", port: Number(process.argv[1])});
socket.on("connect", () => { console.log("connected"); process.exit(0); });
socket.on("error", (error) => { console.log("refused " + error.code); process.exit(0); });
"""


def builder_for(tmp_path: Path, **changes: object) -> ModuleBuilder:
    settings = Settings(data_dir=tmp_path / "data", **changes)  # type: ignore[arg-type]
    builder = ModuleBuilder(settings)
    if builder.missing():
        pytest.skip(f"modules cannot be built here: {builder.missing()}")
    return builder


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    """A TCP server on the host's loopback that anyone outside a sandbox can reach."""
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_the_build_sandbox_has_no_network(tmp_path: Path, listener: int) -> None:
    builder = builder_for(tmp_path)
    if builder.sandbox.kind != "bwrap":
        pytest.skip("bubblewrap cannot create namespaces here: builds are not sandboxed")
    assert builder.node is not None
    workdir = tmp_path / "job"
    (workdir / "src").mkdir(parents=True)
    (workdir / "out").mkdir()
    probe = [builder.node, "-e", CONNECT, str(listener)]
    common = {"env": {"PATH": "/usr/bin:/bin"}, "stdin": None, "timeout_seconds": 60.0}
    outside = await run_confined(probe, limits=builder.limits(), die_with_parent=True, **common)  # type: ignore[arg-type]
    assert outside.stdout.decode().strip() == "connected", "the probe must work unconfined"
    inside = await run_confined(
        [*builder.sandbox_prefix(workdir), *probe],
        limits=builder.limits(),
        die_with_parent=False,
        **common,  # type: ignore[arg-type]
    )
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout.decode().startswith("refused"), inside.stdout


async def test_a_build_past_its_time_limit_is_killed(tmp_path: Path) -> None:
    builder = builder_for(tmp_path, module_build_timeout_seconds=0.3)
    source = PLAIN_ABI_SOURCE + f"\n// {secrets.token_hex(8)}: never cached\n"
    result = await builder.build(source)
    assert not result.ok and result.wasm is None
    assert result.problems[0]["message"] == "the build ran longer than 0.3 s and was stopped"
    assert not compilers_running(builder), "the compiler's process group was killed"
    assert not any(builder.work_root.iterdir()), "the build's directory is removed"


def compilers_running(builder: ModuleBuilder) -> list[str]:
    marker = str(builder.toolchain_dir / "build.mjs")
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in text and "/build/src/module.ts" in text:
            found.append(text)
    return found


async def test_a_source_without_the_sdk_builds_to_flowplane_imports_only(tmp_path: Path) -> None:
    builder = builder_for(tmp_path)
    result = await builder.build(PLAIN_ABI_SOURCE)
    assert result.ok, result.problems
    assert result.wasm is not None
    info = inspect_wasm(result.wasm, max_bytes=1 << 24)
    assert info.problems == []
    assert info.imports == ["log"], "abort and trace became flowplane.log; seed is compiled in"


async def test_the_compiler_cannot_write_a_module_over_the_size_cap(tmp_path: Path) -> None:
    builder = builder_for(tmp_path, module_max_wasm_bytes=1024)
    result = await builder.build(PLAIN_ABI_SOURCE + f"\n// {secrets.token_hex(8)}\n")
    assert not result.ok and result.wasm is None
    assert "larger than 1024 bytes" in result.problems[0]["message"], result.problems
