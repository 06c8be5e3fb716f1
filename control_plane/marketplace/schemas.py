"""Request and response bodies of /api/marketplace."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,29}$"
CATEGORIES = (
    "ai",
    "communication",
    "data",
    "developer",
    "finance",
    "marketing",
    "productivity",
    "sales",
    "support",
    "utilities",
    "other",
)
Category = Literal[
    "ai",
    "communication",
    "data",
    "developer",
    "finance",
    "marketing",
    "productivity",
    "sales",
    "support",
    "utilities",
    "other",
]
Visibility = Literal["public", "unlisted", "private"]
MAX_README_CHARS = 64 * 1024
Tag = Annotated[str, Field(pattern=TAG_PATTERN)]


class _Listing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN, examples=["weather-lookup"])
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(min_length=1, max_length=300)
    readme: str = Field(default="", max_length=MAX_README_CHARS, description="Markdown")
    category: Category = "other"
    tags: list[Tag] = Field(default_factory=list, max_length=10)
    icon: str | None = Field(default=None, max_length=16)
    visibility: Visibility = "public"
    version: str | None = Field(
        default=None, description="Semantic version; default 1.0.0, then the next minor"
    )


class ToolPublish(_Listing):
    kind: Literal["tool"]
    module_id: str = Field(min_length=1, max_length=64)
    module_version: int = Field(ge=1)
    config_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema (type object) of the node's `config`"
    )


class FlowPublish(_Listing):
    kind: Literal["flow"]
    flow_id: str = Field(min_length=1, max_length=64)


PublishRequest = Annotated[ToolPublish | FlowPublish, Field(discriminator="kind")]


class InstallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(default=None, description="default: the latest not yanked")
    grants: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="The capabilities granted, exactly those the version declares",
    )


class UseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="The new flow's name (default: derived)")
    version: str | None = None
    secrets: dict[str, str] = Field(default_factory=dict, description="values of its secrets")
    tools: dict[str, list[str]] = Field(
        default_factory=dict,
        description="tools to install on the way: {slug: grants}",
    )


class ReviewWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: int = Field(ge=1, le=5)
    text: str = Field(default="", max_length=2000)


class ReportWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class ModerationWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "unlisted", "removed"]


class VersionOut(BaseModel):
    version: str
    sha256: str
    capabilities: dict[str, Any]
    config_schema: dict[str, Any] | None
    required_secrets: list[str]
    required_tools: list[str]
    signature: str
    key_id: str
    yanked: bool
    created_at: datetime


class ListingCard(BaseModel):
    slug: str
    kind: str
    title: str
    summary: str
    category: str
    tags: list[str]
    icon: str | None
    author: str = Field(description="the publishing workspace's name")
    visibility: str
    status: str
    latest_version: str
    capabilities: dict[str, Any] = Field(description="of the latest version")
    install_count: int
    rating: float | None
    rating_count: int
    created_at: datetime
    updated_at: datetime


class ReviewOut(BaseModel):
    author: str
    rating: int
    text: str
    created_at: datetime
    updated_at: datetime


class InstalledOut(BaseModel):
    slug: str
    kind: str
    title: str
    icon: str | None
    version: str
    reference: str | None = Field(description="tool:<slug>@<version> for tools")
    granted: dict[str, Any]
    capabilities: dict[str, Any]
    config_schema: dict[str, Any] | None
    installed_at: datetime


class ListingDetail(ListingCard):
    readme: str
    readme_html: str = Field(description="the README rendered and sanitized")
    versions: list[VersionOut]
    reviews: list[ReviewOut]
    organism_yaml: str | None = Field(description="a template's latest organism (no secrets)")
    installed: InstalledOut | None
    is_author: bool
    can_review: bool


class SearchOut(BaseModel):
    items: list[ListingCard]
    total: int
    page: int
    per_page: int


class MissingTool(BaseModel):
    reference: str
    slug: str
    version: str
    capabilities: dict[str, Any]


class UseOut(BaseModel):
    flow_id: str
    flow_name: str
    required_secrets: list[str]
    missing_secrets: list[str]
    installed_tools: list[str]
    missing_tools: list[MissingTool]


class ReportOut(BaseModel):
    id: str
    listing: str
    reason: str
    reporter: str
    created_at: datetime


class PublicKeyOut(BaseModel):
    key_id: str
    public_key: str = Field(description="base64 of the raw Ed25519 public key")
