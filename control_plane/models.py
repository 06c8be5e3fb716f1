"""Imports every domain's SQLAlchemy models so `Base.metadata` knows all tables (Alembic, tests)."""

from __future__ import annotations

import importlib

DOMAINS_WITH_MODELS = (
    "accounts",
    "flows",
    "pumps",
    "executions",
    "triggers",
    "modules",
    "billing",
    "waits",
    "jobs",
    "callbacks",
    "marketplace",
    "authoring",
)


def import_all_models() -> None:
    for domain in DOMAINS_WITH_MODELS:
        importlib.import_module(f"control_plane.{domain}.models")
