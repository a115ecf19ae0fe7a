"""`loupe.yaml`, validated by pydantic; every field can be overridden by the environment.

Precedence: CLI flag > environment (`LOUPE_<FIELD>`, nested with `__`, e.g. `LOUPE_WAL__MAX_BYTES`)
> loupe.yaml > default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class WALSettings(BaseModel):
    dir: str = "./.loupe/wal"
    max_bytes: int = 1 << 30  # past this the collector answers 503 until the store catches up
    segment_bytes: int = 64 << 20
    batch_records: int = 2000  # WAL records per insert; each record is one export request
    batch_bytes: int = 16 << 20  # ~10k spans an insert; two batches (one inserting, one normalising) in memory
    flush_interval_s: float = 0.2


class LimitSettings(BaseModel):
    max_body_bytes: int = 16 << 20  # compressed request body
    max_decompressed_bytes: int = 64 << 20  # gzip bombs stop here
    max_text_chars: int = 100_000  # ~25k tokens: whole RAG prompts stay judgeable
    binary_min_chars: int = 512  # 384 bytes of base64: smaller than any real image, longer than keys


class ProjectSettings(BaseModel):
    retention_days: int | None = None
    content_retention_days: int | None = None  # inputs/outputs/documents go earlier than metrics
    redaction: dict[str, Any] | None = None  # RedactionConfig fields; None = the global rules
    price_overrides: list[dict[str, Any]] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOUPE_", env_nested_delimiter="__", extra="forbid")

    dsn: str = "chdb://./.loupe/data"
    database: str | None = None
    host: str = "127.0.0.1"
    port: int = 4318
    public_url: str = "http://127.0.0.1:8501"
    retention_days: int = 30
    content_retention_days: int | None = None  # None: content is kept as long as the rest
    bootstrap_api_key: str | None = None
    grpc_port: int = 4317  # OTLP/gRPC; 0 disables it
    cluster: str | None = None  # a ClickHouse cluster name: Replicated + Distributed tables ON CLUSTER
    wal: WALSettings = WALSettings()
    limits: LimitSettings = LimitSettings()
    redaction: dict[str, Any] = Field(default_factory=dict)  # RedactionConfig fields
    price_overrides: list[dict[str, Any]] = Field(default_factory=list)
    projects: dict[str, ProjectSettings] = Field(default_factory=dict)
    # Decode/normalise in this many worker processes while the main process serves HTTP and inserts;
    # 0 does it all in the writer thread (tests, tiny deployments).
    ingest_workers: int = 1
    # Sections owned by their packages, validated there (judges/config.py, analytics/alerts…).
    judges: dict[str, Any] = Field(default_factory=dict)
    alerts: dict[str, Any] = Field(default_factory=dict)
    log_level: str = "info"

    @field_validator("bootstrap_api_key")
    @classmethod
    def _strong_key(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 20:
            raise ValueError("bootstrap_api_key must be at least 20 characters")
        return value

    @field_validator("dsn")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("chdb://", "http://", "https://")):
            raise ValueError("dsn must start with chdb://, http:// or https://")
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    def project(self, name: str) -> ProjectSettings:
        return self.projects.get(name) or ProjectSettings()

    @property
    def data_dir(self) -> str | None:
        return self.dsn[len("chdb://"):] if self.dsn.startswith("chdb://") else None


_CONFIG_PATH: list[Path | None] = [None]


class _YamlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _CONFIG_PATH[0]
        if path is None:
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: the top level must be a mapping")
        return data


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional loupe.yaml, the environment, then explicit overrides (CLI flags)."""
    path = Path(config) if config else None
    if path is None and Path("loupe.yaml").exists():
        path = Path("loupe.yaml")
    if path is not None and not path.exists():
        raise FileNotFoundError(f"config file not found: {path}")
    _CONFIG_PATH[0] = path
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _CONFIG_PATH[0] = None
