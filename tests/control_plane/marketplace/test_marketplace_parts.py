"""Pure parts of the marketplace: templates without secrets, safe READMEs, semver, signing."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.errors import InvalidInput
from control_plane.marketplace.readme import render_readme
from control_plane.marketplace.semver import is_semver, next_version, sort_key
from control_plane.marketplace.signing import Signer, tool_message
from control_plane.marketplace.templates import template_from_flow
from control_plane.settings import Settings

FLOW = """version: 1
organism: {name: caller}
triggers:
  - {name: nightly, kind: schedule, cron: "0 2 * * *", target: call, payload: {token: abc123456}}
listeners:
  - name: call
    handler: builtin.http
    peers: [done]
    config:
      method: POST
      url: "https://api.example.com/x?key=my-own-secret-value"
      headers: {Authorization: "Bearer sk-live-99999", X-Trace: "keep me"}
      json: {items: [{password: hunter2hunter2}]}
  - name: done
    handler: tool:acme-tool@1.2.0
    config: {api_key: "${secrets.ACME_KEY}"}
"""


def test_a_template_keeps_references_and_drops_every_secret_value() -> None:
    template = template_from_flow(FLOW, {}, {"OWN": "my-own-secret-value"})
    text = template.organism_yaml + str(template.canvas_state)
    for value in ("abc123456", "my-own-secret-value", "sk-live-99999", "hunter2hunter2"):
        assert value not in text, value
    assert "keep me" in template.organism_yaml
    assert template.required_secrets == [
        "ACME_KEY", "CALL_AUTHORIZATION", "CALL_PASSWORD", "NIGHTLY_TOKEN", "OWN",
    ]  # fmt: skip
    assert template.required_tools == ["tool:acme-tool@1.2.0"]
    names = {node["data"]["name"] for node in template.canvas_state["nodes"]}
    assert {"call", "done", "nightly"} <= names


def test_a_template_cannot_carry_a_workspace_module() -> None:
    with pytest.raises(InvalidInput) as refused:
        template_from_flow(FLOW.replace("tool:acme-tool@1.2.0", "wasm:mine@3"), {}, {})
    assert refused.value.extra["problems"][0]["path"] == "listeners[1].handler"


def test_readmes_are_rendered_without_scripts_or_dangerous_links() -> None:
    html = render_readme(
        "# T\n<img src=x onerror=alert(1)>\n[a](javascript:alert(1)) ![i](data:x) [b](https://ok)"
    )
    assert "<h1>T</h1>" in html and 'href="https://ok"' in html
    assert "<img src" not in html and "javascript:" not in html.split("<a ")[-1]
    assert "onerror=" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")


def test_semantic_versions_order_and_default() -> None:
    assert is_semver("1.2.3") and is_semver("1.0.0-beta.2+build") and not is_semver("1.2")
    assert sort_key("1.0.0-beta") < sort_key("1.0.0") < sort_key("1.0.1") < sort_key("1.10.0")
    assert next_version(None) == "1.0.0" and next_version("1.4.2") == "1.5.0"


def test_the_platform_key_is_generated_once_and_verifies(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    signer = Signer.from_settings(settings)
    assert Signer.from_settings(settings).public_key == signer.public_key
    assert (tmp_path / "marketplace-signing.key").stat().st_mode & 0o077 == 0
    message = tool_message("t", "1.0.0", "a" * 64, {})
    signature = signer.sign(message)
    assert signer.verify(message, signature)
    assert not signer.verify(tool_message("t", "1.0.0", "b" * 64, {}), signature)
    with pytest.raises(ValueError, match="32-byte"):
        Signer.from_settings(Settings(data_dir=tmp_path, marketplace_signing_key="AAAA"))
