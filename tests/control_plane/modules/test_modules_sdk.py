"""The pieces that must agree with each other: the SDK's type definitions for the browser and
its AssemblyScript source, the control plane's ABI table and the pump's host imports."""

from __future__ import annotations

import re

from control_plane.modules.builder import SDK_DIR
from control_plane.modules.templates import TEMPLATES
from control_plane.modules.wasm_check import HOST_FUNCTIONS
from pump.wasm.hostcalls import HOST_IMPORTS

EXPORTED = re.compile(r"^export (?:function|const|class|enum) (\w+)", re.MULTILINE)
REEXPORTED = re.compile(r"^export \{([^}]*)\} from", re.MULTILINE)
DECLARED = re.compile(r"^  export (?:function|const|class|enum) (\w+)", re.MULTILINE)
METHOD = re.compile(r"^  (?:static )?(\w+)\(", re.MULTILINE)


def sdk_exports() -> set[str]:
    text = (SDK_DIR / "flowplane" / "index.ts").read_text()
    names = set(EXPORTED.findall(text))
    for group in REEXPORTED.findall(text):
        names |= {item.strip() for item in group.split(",") if item.strip()}
    return names


def test_the_type_definitions_declare_every_sdk_export() -> None:
    declared = set(DECLARED.findall((SDK_DIR / "flowplane.d.ts").read_text()))
    assert declared == sdk_exports()


def test_the_type_definitions_declare_every_value_method() -> None:
    json_source = (SDK_DIR / "flowplane" / "json.ts").read_text()
    value_class = json_source[json_source.index("export class Value") :]
    value_class = value_class[: value_class.index("\n}\n")]
    methods = set(METHOD.findall(value_class))
    types = (SDK_DIR / "flowplane.d.ts").read_text()
    declared_class = types[types.index("export class Value") :]
    declared_class = declared_class[: declared_class.index("\n  }\n")]
    declared = set(re.findall(r"^    (?:static )?(\w+)\(", declared_class, re.MULTILINE))
    assert methods == declared


def test_the_abi_table_matches_the_pumps_host_imports() -> None:
    pump_side = {name: (params, results) for name, (params, results, _) in HOST_IMPORTS.items()}
    assert pump_side == HOST_FUNCTIONS


def test_every_template_has_its_source() -> None:
    for template in TEMPLATES:
        assert 'from "flowplane"' in template.source
        assert "export function handle" in template.source
