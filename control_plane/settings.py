"""The one settings object. Every value comes from the environment (prefix FLOWPLANE_);
DATABASE_URL, REDIS_URL and BLOB_URL are accepted without the prefix too."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FLOWPLANE_", extra="ignore")

    data_dir: Path = Path(".flowplane")
    database_url: str = Field(
        default="", validation_alias=AliasChoices("FLOWPLANE_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str = Field(
        default="", validation_alias=AliasChoices("FLOWPLANE_REDIS_URL", "REDIS_URL")
    )
    blob_url: str = Field(
        default="", validation_alias=AliasChoices("FLOWPLANE_BLOB_URL", "BLOB_URL")
    )
    public_url: str = ""  # base URL shown in webhook URLs; empty: taken from the request
    log_level: str = "INFO"
    log_json: bool = True
    run_migrations: bool = True  # apply Alembic migrations at start-up
    session_ttl_hours: int = 24 * 14
    pump_backend: Literal["process", "docker", "kubernetes"] = "process"
    background_tasks: bool = True  # reconciler, recorder, scheduler; off for API-only replicas

    @property
    def resolved_database_url(self) -> str:
        if not self.database_url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'flowplane.db').resolve()}"
        return normalize_database_url(self.database_url)

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url


def normalize_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
