"""`python -m pump run organism.yaml --payload ...`: one execution against an embedded Redis."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pump_testkit import REPO

from pump.__main__ import main

EXAMPLES = REPO / "pump" / "examples"

ORGANISM = """
version: 1
organism: {name: local-demo}
triggers:
  - {name: nightly, kind: schedule, cron: "0 2 * * *", target: greet, payload: {name: cron}}
  - {name: run, kind: manual, target: greet}
listeners:
  - name: greet
    handler: builtin.transform
    peers: [echo]
    config: {set: {greeting: "hello {{ payload.name }}", token: "${secrets.TOKEN}"}}
  - {name: echo, handler: "wasm:echo@1", peers: [out]}
  - {name: out, handler: builtin.output, config: {expression: "payload.payload"}}
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pump", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_runs_one_execution_and_prints_the_timeline_and_outputs(tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(EXAMPLES / "wat" / "echo.wat", modules / "echo.wat")
    organism = tmp_path / "organism.yaml"
    organism.write_text(ORGANISM)

    text = run(str(organism), "--payload", '{"name": "Ada"}', "--modules-dir", str(modules),
               "--secret", "TOKEN=abc")  # fmt: skip
    assert text.returncode == 0, text.stderr
    assert "completed" in text.stdout.splitlines()[0]
    assert "greet" in text.stdout and "wasm:echo@1" in text.stdout
    assert '"greeting": "hello Ada"' in text.stdout


def test_json_output_uses_the_chosen_trigger_and_its_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(EXAMPLES / "wat" / "echo.wat", modules / "echo@1.wat")
    organism = tmp_path / "organism.yaml"
    organism.write_text(ORGANISM)
    code = main(["run", str(organism), "--trigger", "nightly", "--modules-dir", str(modules),
                 "--secret", "TOKEN=abc", "--json"])  # fmt: skip
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "completed"
    assert document["outputs"] == [{"name": "cron", "greeting": "hello cron", "token": "abc"}]
    assert document["events"][0]["type"] == "execution.started"


def in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["run", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_mistakes_are_reported_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    organism = tmp_path / "organism.yaml"
    organism.write_text(ORGANISM)
    broken = tmp_path / "broken.yaml"
    broken.write_text(ORGANISM.replace("peers: [echo]", "peers: [nobody]"))

    code, _, err = in_process(str(broken), capsys=capsys)
    assert code == 2 and "listeners[0].peers[0]" in err

    code, _, err = in_process(str(organism), "--secret", "TOKEN=x", capsys=capsys)
    assert code == 2 and "--modules-dir" in err

    code, _, err = in_process(str(organism), "--payload", "{not json", capsys=capsys)
    assert code == 2 and "--payload is not valid JSON" in err

    code, _, err = in_process(str(organism), "--trigger", "webhook", capsys=capsys)
    assert code == 2 and "no trigger named 'webhook' (triggers: nightly, run)" in err

    code, _, err = in_process(str(tmp_path / "absent.yaml"), capsys=capsys)
    assert code == 2 and "cannot read" in err

    modules = tmp_path / "modules"
    modules.mkdir()
    shutil.copy(EXAMPLES / "wat" / "echo.wat", modules / "echo@1.wat")
    code, out, _ = in_process(str(organism), "--modules-dir", str(modules), capsys=capsys)
    assert code == 1  # no TOKEN secret: the execution fails
    assert "failed: missing_secret" in out
