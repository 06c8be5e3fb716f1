"""Request and response bodies of /api/modules."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MODULE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
HOST_PATTERN = re.compile(
    r"^(\*|(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
    r"|\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$"
)
MAX_HOSTS = 32


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpFetchCapability(StrictBody):
    hosts: list[str] = Field(
        min_length=1,
        max_length=MAX_HOSTS,
        description="Hosts http_fetch may reach: `api.example.com`, `*.example.org` (any "
        "subdomain), an IP address, or `*` for any public host",
    )

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, hosts: list[str]) -> list[str]:
        cleaned: list[str] = []
        for host in hosts:
            name = host.strip().lower().rstrip(".")
            if not HOST_PATTERN.match(name):
                raise ValueError(f"{host!r} is not a host name, `*.domain`, an IP address or `*`")
            if name not in cleaned:
                cleaned.append(name)
        return cleaned


class Capabilities(StrictBody):
    """What the module may do beyond computing: `http_fetch` with the hosts it may reach. The
    flows of the module's workspace get exactly these grants."""

    http_fetch: HttpFetchCapability | None = None


class VersionWrite(StrictBody):
    source: str | None = Field(default=None, description="AssemblyScript source to build")
    wasm_base64: str | None = Field(default=None, description="A compiled module, base64")
    capabilities: Capabilities = Field(default_factory=Capabilities)


class ModuleCreate(VersionWrite):
    name: str = Field(
        pattern=MODULE_NAME_PATTERN,
        description="A slug unique in the workspace; flows use wasm:<name>@<version>",
    )
    description: str | None = Field(default=None, max_length=2000)


class ModuleUpdate(StrictBody):
    description: str | None = Field(default=None, max_length=2000)


class TestRunRequest(StrictBody):
    version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Default: the latest version"
    )
    payload: Any = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    memory: dict[str, Any] | None = Field(
        default=None,
        description="Starting project memory of the run (null: memory is off for the run)",
    )


class Problem(BaseModel):
    path: str
    message: str
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None
    severity: str = "error"
    code: str | None = None
    file: str | None = None


class ExportOut(BaseModel):
    name: str
    kind: str
    signature: str | None = None


class VersionSummary(BaseModel):
    version: int
    reference: str  # wasm:<name>@<version>
    sha256: str
    size_bytes: int
    source_kind: str  # assemblyscript | wasm
    capabilities: dict[str, Any]
    created_at: datetime


class VersionDetail(VersionSummary):
    source: str | None
    exports: list[ExportOut]
    imports: list[str]
    build_log: str | None
    build_ms: float | None
    toolchain: str | None


class ModuleOut(BaseModel):
    id: str
    name: str
    description: str | None
    latest_version: int
    latest: VersionSummary | None
    created_at: datetime
    updated_at: datetime


class ModuleDetail(ModuleOut):
    versions: list[VersionSummary]  # newest first
    version: VersionDetail  # the latest version, in full
    used_by: list[str]  # names of the workspace's flows that use the module


class TestRunLog(BaseModel):
    level: str
    message: str


class TestRunOut(BaseModel):
    version: int
    ok: bool
    result: Any = None
    route: list[str] | None = None
    error: dict[str, str] | None = None  # {reason, message}
    logs: list[TestRunLog]
    fuel_used: int | None
    duration_ms: float | None
    memory: dict[str, Any] | None


class TemplateOut(BaseModel):
    id: str
    title: str
    description: str
    source: str
    capabilities: dict[str, Any]
    sample_payload: Any
    sample_config: dict[str, Any]


class SdkFile(BaseModel):
    path: str  # where the editor mounts it, e.g. file:///flowplane.d.ts
    content: str


class SdkOut(BaseModel):
    toolchain: str | None
    files: list[SdkFile]
