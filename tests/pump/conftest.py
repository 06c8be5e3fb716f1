"""Fixtures of the pump's tests: WASM modules by content hash (WAT fixtures, the AssemblyScript
example built with `asc`), and the module directory a pump loads them from."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import wasmtime
from pump_testkit import ModuleDirectory

EXAMPLES = Path(__file__).resolve().parents[2] / "pump" / "examples"
AS_PROJECT = EXAMPLES / "assemblyscript"
AS_OUTPUT = EXAMPLES / "build" / "ticket_triage.wasm"


def build_assemblyscript() -> Path:
    """`npm ci && npm run build` in the example, unless its output is already there."""
    if AS_OUTPUT.exists():
        return AS_OUTPUT
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node/npm are not installed: the AssemblyScript example cannot be built")
    for command in ([npm, "ci", "--no-audit", "--no-fund"], [npm, "run", "build"]):
        result = subprocess.run(
            command, cwd=AS_PROJECT, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return AS_OUTPUT


@pytest.fixture(scope="session")
def assemblyscript_wasm() -> bytes:
    return build_assemblyscript().read_bytes()


@pytest.fixture(scope="session")
def wat_modules() -> dict[str, bytes]:
    return {
        path.stem: bytes(wasmtime.wat2wasm(path.read_text()))
        for path in sorted((EXAMPLES / "wat").glob("*.wat"))
    }


@pytest.fixture(scope="session")
def module_directory(
    tmp_path_factory: pytest.TempPathFactory,
    wat_modules: dict[str, bytes],
    assemblyscript_wasm: bytes,
) -> ModuleDirectory:
    directory = tmp_path_factory.mktemp("modules")
    hashes: dict[str, str] = {}
    for name, wasm in {**wat_modules, "ticket_triage": assemblyscript_wasm}.items():
        digest = hashlib.sha256(wasm).hexdigest()
        (directory / f"{digest}.wasm").write_bytes(wasm)
        hashes[name] = digest
    return ModuleDirectory(directory, hashes)
