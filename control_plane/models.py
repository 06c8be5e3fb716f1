"""Imports every domain's SQLAlchemy models so `Base.metadata` knows all tables (Alembic, tests)."""

from __future__ import annotations

import importlib

DOMAINS_WITH_MODELS = ("accounts", "flows", "pumps", "executions", "triggers")


def import_all_models() -> None:
    for domain in DOMAINS_WITH_MODELS:
        try:
            importlib.import_module(f"control_plane.{domain}.models")
        except ModuleNotFoundError as error:
            if (
                error.name != f"control_plane.{domain}.models"
                and error.name != f"control_plane.{domain}"
            ):
                raise
