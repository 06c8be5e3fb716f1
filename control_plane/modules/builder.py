"""The server-side AssemblyScript build: `asc` (npm `assemblyscript`, pinned in
toolchain/package.json) with the Flowplane SDK (sdk/), run on untrusted source in a sandbox.

The compiler runs under bubblewrap when pumps do (`pump_sandbox`): every namespace unshared, the
network included; uid 65534 in its own user namespace; no capabilities; read-only system
directories, toolchain, SDK and source; one writable output directory. rlimits bound its data
segment (memory), CPU time and the size of any file it writes (the module); a wall-time limit
kills its process group. Builds are serialized per control-plane process
(`module_build_concurrency`) and identical sources are served from a small in-memory cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import secrets
import shutil
import subprocess
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import structlog

from control_plane.modules.confinement import Limits, capped, run_confined
from control_plane.pumps.backends.sandbox import SYSTEM_PATHS, Sandbox, detect_sandbox
from control_plane.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
SDK_DIR = PACKAGE_DIR / "sdk"
DEFAULT_TOOLCHAIN_DIR = PACKAGE_DIR / "toolchain"
BUILD_UID = 65534  # nobody, inside the build's own user namespace
CACHE_ENTRIES = 64
# Outcomes of earlier builds by (toolchain, SDK, source): shared by the process's builders.
_CACHE: OrderedDict[str, BuildResult] = OrderedDict()
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
log = structlog.get_logger("control_plane.modules")


class ToolchainMissing(Exception):
    """The compiler cannot run here; the message says what to install."""


@dataclass(frozen=True)
class BuildResult:
    ok: bool
    wasm: bytes | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    log: str = ""
    duration_ms: float = 0.0
    toolchain: str = ""


def problem(message: str, **position: Any) -> dict[str, Any]:
    """A build problem without a position in the source (or with the given one)."""
    base = {"path": "source", "line": None, "column": None, "end_line": None, "end_column": None}
    return {**base, **position, "message": message, "severity": "error"}


class ModuleBuilder:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.toolchain_dir = (settings.module_toolchain_dir or DEFAULT_TOOLCHAIN_DIR).resolve()
        self.sandbox: Sandbox = detect_sandbox(
            settings.pump_sandbox, settings.pump_uid, settings.pump_gid
        )
        self.work_root = settings.data_dir.resolve() / "builds"
        self._slots = asyncio.Semaphore(max(1, settings.module_build_concurrency))

    # --- the toolchain -----------------------------------------------------------------------

    @cached_property
    def node(self) -> str | None:
        found = shutil.which("node")
        return str(Path(found).resolve()) if found else None

    @property
    def compiler_dir(self) -> Path:
        return self.toolchain_dir / "node_modules" / "assemblyscript"

    @cached_property
    def version(self) -> str:
        try:
            package = json.loads((self.compiler_dir / "package.json").read_text())
        except (OSError, ValueError):
            return ""
        return f"assemblyscript {package.get('version', '?')}"

    def missing(self) -> str | None:
        """Why builds cannot run here, or None."""
        if self.node is None:
            return "Node.js (`node`) is not installed on the control plane's machine"
        if not self.version:
            return (
                f"the AssemblyScript compiler is not installed in {self.toolchain_dir} "
                "(run `make install`)"
            )
        return None

    @cached_property
    def _cache_salt(self) -> str:
        digest = hashlib.sha256(self.version.encode())
        for path in sorted([*SDK_DIR.rglob("*.ts"), self.toolchain_dir / "build.mjs"]):
            digest.update(path.read_bytes())
        return digest.hexdigest()

    @cached_property
    def isolates_users(self) -> bool:
        """Whether bubblewrap may give the compiler its own user namespace here."""
        if self.sandbox.bwrap_path is None:
            return False
        probe = [self.sandbox.bwrap_path, "--unshare-user", "--uid", str(BUILD_UID)]
        probe += ["--gid", str(BUILD_UID), "--ro-bind", "/", "/", "true"]
        result = subprocess.run(probe, capture_output=True, timeout=10, check=False)
        return result.returncode == 0

    # --- building ----------------------------------------------------------------------------

    async def build(self, source: str) -> BuildResult:
        missing = self.missing()
        if missing is not None:
            raise ToolchainMissing(missing)
        key = hashlib.sha256(f"{self._cache_salt}\0{source}".encode()).hexdigest()
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        timeout = self.settings.module_build_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            return BuildResult(False, None, [problem("the build queue is full; try again")])
        try:
            result = await self._build(source)
        finally:
            self._slots.release()
        if result.ok or not any(item["line"] is None for item in result.problems):
            _CACHE[key] = result  # only outcomes the source decides (not timeouts)
            while len(_CACHE) > CACHE_ENTRIES:
                _CACHE.popitem(last=False)
        return result

    async def _build(self, source: str) -> BuildResult:
        self.work_root.mkdir(parents=True, exist_ok=True, mode=0o711)  # traversable, not listable
        workdir = self.work_root / secrets.token_hex(8)
        (workdir / "src").mkdir(parents=True)
        (workdir / "out").mkdir()
        (workdir / "out").chmod(0o777)  # the compiler's uid inside the sandbox writes here
        (workdir / "src" / "module.ts").write_text(source, encoding="utf-8")
        for path in (workdir, workdir / "src"):
            path.chmod(0o755)
        started = time.perf_counter()
        try:
            finished = await run_confined(
                self.command(workdir),
                env=dict(ENVIRONMENT),
                stdin=None,
                timeout_seconds=self.settings.module_build_timeout_seconds,
                limits=self.limits(),
                die_with_parent=self.sandbox.kind == "none",
                # without bubblewrap the compiler still never runs as root
                run_as=self.sandbox.run_as if self.sandbox.kind == "none" else None,
            )
            elapsed = (time.perf_counter() - started) * 1000
            if finished.timed_out:
                limit = self.settings.module_build_timeout_seconds
                message = f"the build ran longer than {limit:g} s and was stopped"
                return BuildResult(False, None, [problem(message)], "", elapsed, self.version)
            return self._outcome(finished.stdout, finished.stderr, workdir, elapsed)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    def command(self, workdir: Path) -> list[str]:
        """The whole build command: the sandbox around `node build.mjs`."""
        assert self.node is not None
        heap_mib = max(128, min(1024, self.settings.module_build_memory_bytes // (2 * 1024**2)))
        node = [
            self.node,
            f"--max-old-space-size={heap_mib}",
            str(self.toolchain_dir / "build.mjs"),
        ]
        if self.sandbox.kind != "bwrap":
            source, output = workdir / "src" / "module.ts", workdir / "out" / "module.wasm"
            return [*node, str(source), str(output), str(SDK_DIR)]
        sandbox = self.sandbox_prefix(workdir)
        return [*sandbox, *node, "/build/src/module.ts", "/build/out/module.wasm", str(SDK_DIR)]

    def sandbox_prefix(self, workdir: Path) -> list[str]:
        """bubblewrap's part of the command: `workdir/src` read-only at /build/src,
        `workdir/out` writable at /build/out, no network, nothing else of the host's."""
        assert self.sandbox.bwrap_path is not None and self.node is not None
        argv = [self.sandbox.bwrap_path, "--unshare-all", "--die-with-parent", "--new-session"]
        if self.isolates_users:
            argv += ["--unshare-user", "--uid", str(BUILD_UID), "--gid", str(BUILD_UID)]
        argv += ["--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for system_path in map(Path, SYSTEM_PATHS):
            if system_path.is_symlink():
                argv += ["--symlink", str(system_path.readlink()), str(system_path)]
            elif system_path.is_dir():
                argv += ["--ro-bind", str(system_path), str(system_path)]
        if Path("/etc/ld.so.cache").exists():
            argv += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        node_prefix = Path(self.node).parent.parent
        for path in (node_prefix, self.toolchain_dir, SDK_DIR):
            if not any(path == Path(root) or Path(root) in path.parents for root in SYSTEM_PATHS):
                argv += ["--ro-bind", str(path), str(path)]
        argv += ["--ro-bind", str(workdir / "src"), "/build/src"]
        argv += ["--bind", str(workdir / "out"), "/build/out"]
        return [*argv, "--chdir", "/build", "--hostname", "flowplane-build", "--"]

    def limits(self) -> Limits:
        """Data segment (memory), CPU seconds, written file size (the module), open files."""
        settings = self.settings
        cpu = int(settings.module_build_timeout_seconds) + 5
        return [
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_CPU, (cpu, cpu + 5)),
            (
                resource.RLIMIT_DATA,
                capped(resource.RLIMIT_DATA, settings.module_build_memory_bytes),
            ),
            # one byte more than a module may have: a larger one stops at the cap and is refused
            (
                resource.RLIMIT_FSIZE,
                capped(resource.RLIMIT_FSIZE, settings.module_max_wasm_bytes + 1),
            ),
            (resource.RLIMIT_NOFILE, capped(resource.RLIMIT_NOFILE, 256)),
        ]

    def _outcome(self, stdout: bytes, stderr: bytes, workdir: Path, elapsed: float) -> BuildResult:
        try:
            report = json.loads(stdout.decode("utf-8", "replace"))
            assert isinstance(report, dict)
        except (ValueError, AssertionError):
            detail = stderr.decode("utf-8", "replace").strip()[-2000:]
            log.warning("modules.build_crashed", stderr=detail)
            message = "the compiler stopped without a result (out of memory or output too large?)"
            return BuildResult(False, None, [problem(message)], detail, elapsed, self.version)
        problems = [self._problem(item) for item in report.get("problems", [])]
        errors = [item for item in problems if item["severity"] == "error"]
        text = str(report.get("log", ""))
        output = workdir / "out" / "module.wasm"
        if report.get("ok") and not errors and output.exists():
            wasm = output.read_bytes()
            cap = self.settings.module_max_wasm_bytes
            if len(wasm) > cap:
                message = f"the compiled module is larger than {cap} bytes"
                return BuildResult(False, None, [problem(message)], text, elapsed, self.version)
            return BuildResult(True, wasm, problems, text, elapsed, self.version)
        if not errors:
            errors = [problem("the compiler reported success but wrote no module")]
        return BuildResult(False, None, errors, text, elapsed, self.version)

    @staticmethod
    def _problem(raw: dict[str, Any]) -> dict[str, Any]:
        file = raw.get("file")
        in_source = file in (None, "module.ts")
        message = str(raw.get("message", ""))
        if not in_source:
            message = f"{message} (in {file})"
        return {
            "path": "source",
            "file": file,
            "line": raw.get("line") if in_source else None,
            "column": raw.get("column") if in_source else None,
            "end_line": raw.get("end_line") if in_source else None,
            "end_column": raw.get("end_column") if in_source else None,
            "message": message,
            "code": raw.get("code"),
            "severity": raw.get("severity", "error"),
        }

    def health(self) -> dict[str, Any]:
        """Builds being unavailable does not make the control plane unhealthy: flows, uploads
        of compiled modules and everything else still work."""
        missing = self.missing()
        body: dict[str, Any] = {"ok": True, "compiler": self.version or None}
        body["sandbox"] = self.sandbox.kind
        if missing:
            body["builds"] = f"unavailable: {missing}"
        if self.sandbox.warning:
            body["warning"] = "module builds are not sandboxed: " + self.sandbox.warning
        return body
