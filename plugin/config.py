"""One settings object for the whole service: defaults in code -> TOML file -> ``TRIAGE_*`` env.

The file is ``$TRIAGE_CONFIG`` if set, else ``instance/triage.toml`` if it exists. Every field can
be overridden by the environment variable ``TRIAGE_<FIELD NAME IN UPPER CASE>``. Secrets are
``SecretStr`` so they never print; they come only from the environment or the instance file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from .exceptions import ConfigError
from .redact import DEFAULT_ENTITIES, check_entities

ENV_PREFIX = "TRIAGE_"
DEFAULT_INSTANCE_DIR = Path("instance")

# Environment names other tools already use; accepted as aliases.
_ENV_ALIASES = {
    "llm_api_key": ("OPENAI_API_KEY",),
    "llm_base_url": ("OPENAI_BASE_URL",),
}


class Settings(BaseModel):
    """Every knob, with its default. Units are in the names (``_s`` seconds, ``_ms``, ``_bytes``)."""

    model_config = {"extra": "forbid"}

    # --- where things live -------------------------------------------------------------------
    instance_dir: Path = DEFAULT_INSTANCE_DIR
    taxonomy: str = "default"  # path to a taxonomy TOML, or "default"
    model_dir: str = "default"  # fallback model directory, or "default" (the bundled one)
    index_dir: str | None = None  # retrieval index (cascade / few-shot); None = beside the model if present

    # --- text pipeline -----------------------------------------------------------------------
    token_budget: int = Field(512, ge=16)
    encoding: str = "cl100k_base"
    prompt_template: str = "classify_v1"
    # regions whose national phone formats redaction recognises (+-prefixed numbers always are)
    phone_regions: list[str] = Field(default_factory=lambda: ["US", "GB", "DE", "FR", "IN", "BR", "ES", "IT",
                                                              "NL", "AU", "MX"])
    # what redaction replaces before any text leaves (see plugin.redact.ENTITY_TYPES); all by default
    redact_entities: list[str] = Field(default_factory=lambda: list(DEFAULT_ENTITIES))

    # --- LLM (any OpenAI-compatible endpoint) ------------------------------------------------
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(20.0, gt=0)
    llm_max_retries: int = Field(1, ge=0)
    llm_use_logprobs: bool = True
    # how the answer is constrained: json_schema (OpenAI, llama.cpp, vLLM, Ollama >= 0.5), json_object
    # (JSON mode only), none (the prompt asks for JSON; the answer is parsed tolerantly)
    llm_response_format: Literal["json_schema", "json_object", "none"] = "json_schema"
    # a packaged model (plugin.local_llm.MODELS, e.g. "smollm2") that `triage serve` runs itself with
    # llama.cpp's llama-server on loopback, when llm_base_url is not set
    local_llm: str | None = None
    classifier: Literal["auto", "llm", "fallback", "cascade"] = "auto"  # auto = llm if configured
    cascade_threshold: float = Field(0.9, ge=0.0, le=1.0)
    fewshot_k: int = Field(12, ge=0)
    fewshot_token_budget: int = Field(1200, ge=0)

    # --- queue and store ---------------------------------------------------------------------
    # Where the stores live (events, corrections, API keys, model registry): unset = SQLite files in
    # instance_dir (embedded, one host); "postgresql://user:pass@host:5432/db" = PostgreSQL, shared by
    # every receiver and worker host (needs the postgres extra). A secret: it may hold a password.
    database_url: SecretStr | None = None
    queue_backend: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    workers: int = Field(2, ge=1)
    max_attempts: int = Field(6, ge=1)
    lease_s: float = Field(120.0, gt=0)  # a claimed event whose worker died is reclaimable after this
    # FULL: an acknowledged webhook survives power loss (fsync per group commit); NORMAL: survives
    # a killed process but not an OS crash, for disks where fsync is slow (see docs/webhooks.md).
    store_synchronous: Literal["FULL", "NORMAL"] = "FULL"

    # --- HTTP service ------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 256 * 1024
    cors_origins: list[str] = Field(default_factory=list)
    classify_rate_per_minute: int = 600
    classify_require_key: bool = True
    form_enabled: bool = True  # serve the ticket form page at /form (suggestions need the next line)
    # The form is open to the public only from these browser origins ("https://support.example.com"):
    # only then does /form hand out tokens, bound to the origin, accepted with a matching Origin
    # header by /v1/classify and /form/tickets. Empty (default): both need an API key.
    form_public_origins: list[str] = Field(default_factory=list)
    form_rate_per_minute: int = Field(30, ge=0)  # form-token calls per client address
    form_token_ttl_s: int = Field(600, ge=60, le=86400)  # lifetime of the form's signed token
    form_secret: SecretStr | None = None  # signs form tokens; None = random, kept in instance_dir
    public_base_url: str | None = None  # how helpdesks reach us (for `triage install`)

    # --- write-back --------------------------------------------------------------------------
    tag_prefix: str = "triage_"
    guard_tag: str = "triage_classified"
    needs_review_tag: str = "triage_needs_review"
    write_category_field: bool = False

    # --- rollout (docs/rollout.md) ------------------------------------------------------------
    # shadow: every ticket is classified and recorded, nothing is written to the helpdesk; agents'
    # own labels are compared with ours. live: written back (for ``ab_live_share`` of tickets).
    rollout_mode: Literal["shadow", "live"] = "live"
    ab_live_share: float = Field(1.0, ge=0.0, le=1.0)  # in live mode: share of tickets (stable hash) written
    shadow_tag: bool = False  # shadow/manual tickets get one internal ``<tag_prefix>shadow_<label>`` tag

    # --- Zendesk -----------------------------------------------------------------------------
    zendesk_base_url: str | None = None  # e.g. https://acme.zendesk.com
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    zendesk_signing_secret: SecretStr | None = None
    zendesk_allow_test_secret: bool = False  # accept Zendesk's static test secret (dev only)
    zendesk_max_skew_s: int = 300
    zendesk_category_field_id: int | None = None

    # --- Freshdesk ---------------------------------------------------------------------------
    freshdesk_base_url: str | None = None  # e.g. https://acme.freshdesk.com
    freshdesk_api_key: SecretStr | None = None
    freshdesk_webhook_secret: SecretStr | None = None  # shared secret: header or basic-auth password
    freshdesk_secret_header: str = "X-Triage-Secret"
    freshdesk_category_field: str | None = None  # e.g. cf_ai_category

    # --- monitoring --------------------------------------------------------------------------
    price_per_1k_prompt_tokens: float = 0.00015
    price_per_1k_completion_tokens: float = 0.0006
    monitor_window_s: float = Field(7 * 86400.0, gt=0)  # rolling window for /metrics quality gauges

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL (leave it unset for the embedded SQLite store)")
        return value

    @field_validator("redact_entities")
    @classmethod
    def _entities(cls, value: list[str]) -> list[str]:
        try:
            return list(check_entities(value))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("form_public_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        from .origins import normalize_origin

        return [normalize_origin(v) for v in value]

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url or self.llm_api_key) and bool(self.llm_model)

    @property
    def db_path(self) -> Path:
        return self.instance_dir / "triage.sqlite3"

    @property
    def database(self) -> str | Path:
        """What the stores open (``plugin.db.open_database``): the PostgreSQL URL, or the SQLite file."""
        return self.database_url.get_secret_value() if self.database_url else self.db_path

    @property
    def embedded(self) -> bool:
        """SQLite store and SQLite queue: one process consumes, nobody else can hold a lease."""
        return self.database_url is None and self.queue_backend == "sqlite"

    @property
    def queue_path(self) -> Path:
        return self.instance_dir / "queue.sqlite3"


def load_settings(overrides: dict[str, Any] | None = None, *, env: dict[str, str] | None = None,
                  config_file: str | Path | None = None) -> Settings:
    """Build Settings from defaults, then the TOML file, then ``TRIAGE_*`` env, then ``overrides``."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path is None:
        # `triage install` stores secrets in <instance_dir>/triage.toml; find it wherever the
        # instance dir was put (override, env, or the default ./instance).
        instance_dir = Path((overrides or {}).get("instance_dir")
                            or env.get(ENV_PREFIX + "INSTANCE_DIR") or DEFAULT_INSTANCE_DIR)
        if (instance_dir / "triage.toml").exists():
            path = instance_dir / "triage.toml"
    if path:
        try:
            values.update(tomllib.loads(Path(path).read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    for name, field in Settings.model_fields.items():
        for key in (ENV_PREFIX + name.upper(), *_ENV_ALIASES.get(name, ())):
            if key in env and env[key] != "":
                values[name] = _from_env(env[key], field.annotation)
                break
    values.update(overrides or {})
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) + f" ({e['msg']})" for e in exc.errors())
        raise ConfigError(f"invalid settings: {fields}") from exc


def _from_env(raw: str, annotation: Any) -> Any:
    """Env values are strings; lists are comma-separated."""
    if "list" in str(annotation):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw
