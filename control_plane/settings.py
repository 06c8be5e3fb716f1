"""The one settings object. Every value comes from the environment (prefix FLOWPLANE_);
DATABASE_URL, REDIS_URL and BLOB_URL are accepted without the prefix too."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    """A third-party setting read as FLOWPLANE_<NAME> or plain <NAME>."""
    return AliasChoices(f"FLOWPLANE_{name}", name)


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
    # S3-compatible stores (MinIO, R2, ...): the endpoint boto3 talks to instead of AWS
    blob_endpoint_url: str = Field(
        default="",
        validation_alias=AliasChoices("FLOWPLANE_BLOB_ENDPOINT_URL", "BLOB_ENDPOINT_URL"),
    )
    public_url: str = ""  # base URL shown in webhook URLs; empty: taken from the request
    log_level: str = "INFO"
    log_json: bool = True
    run_migrations: bool = True  # apply Alembic migrations at start-up
    session_ttl_hours: int = 24 * 14
    # failed log-ins (and password changes) within the window, per account and per client
    # address, past which attempts get 429 with Retry-After (accounts/throttle.py)
    login_attempts_per_account: int = Field(default=10, ge=1)
    login_attempts_per_address: int = Field(default=100, ge=1)
    login_attempt_window_seconds: int = Field(default=900, ge=1)
    # sign-ups (successful or not) per client address within the window; past it 429
    signups_per_address: int = Field(default=30, ge=1)
    signup_window_seconds: int = Field(default=3600, ge=1)
    # plan of new workspaces; None: `self-hosted` (no limits) without Stripe, `free` with it
    default_tier: Literal["free", "paid", "pro", "enterprise", "self-hosted"] | None = None
    pump_backend: Literal["process", "docker", "kubernetes"] = "process"
    background_tasks: bool = True  # reconciler, recorder, scheduler; off for API-only replicas
    # the embedded Redis refuses writes (noeviction) past this many MiB; 0: no cap
    embedded_redis_maxmemory_mb: int = 1024
    # bearer token /metrics asks for; empty: generated once into <data_dir>/metrics.token
    metrics_token: str = ""
    # FastAPI's native OpenTelemetry (spans, metrics, logs to the global providers); off by
    # default: it costs every request a look-up of the providers (~4 % of a webhook's CPU)
    opentelemetry: bool = False
    api_max_body_bytes: int = 4 * 1024 * 1024  # larger JSON API bodies get 413 (not webhooks)

    # --- pumps (control_plane/pumps/README.md) ------------------------------------------------
    # Redis as the pumps reach it (host, port, db, TLS); the credential in it is replaced by each
    # pump's own ACL user. Empty: the control plane's Redis (REDIS_URL or the embedded server).
    pump_redis_url: str = ""
    pump_sandbox: Literal["auto", "bwrap", "none"] = "auto"  # process backend; auto: bwrap if found
    pump_warm_standby: int = 1  # process backend: sandboxed interpreters kept ready for a start
    # process backend under a root control plane: the unprivileged uid/gid pumps run as
    pump_uid: int = 65534
    pump_gid: int = 65534
    pump_image: str = "flowplane/pump:latest"  # docker and kubernetes backends
    pump_concurrency: int = 128  # executions in flight per pump
    # a trigger whose pump died this many times while running it fails (`poison_message`)
    pump_delivery_limit: int = Field(default=3, ge=1)
    pump_http_allowlist: str = ""  # hosts/CIDRs the HTTP handler may reach despite being private
    # Empty: each pump gets its own flow's modules as read-only files staged from the blob store
    # (process and docker backends). An http(s) URL: this control plane as pumps reach it; each
    # pump downloads its own flow's modules from it with a per-flow token (kubernetes).
    pump_module_source: str = ""
    pump_memory_bytes: int = 512 * 1024 * 1024  # docker/kubernetes memory limit per pump
    pump_cpu: float = 1.0  # docker/kubernetes CPU limit per pump, in cores
    pump_pids: int = 256  # docker/kubernetes process/thread limit per pump
    pump_address_space_bytes: int = 8 * 1024**3  # process backend RLIMIT_AS; 0: unlimited
    pump_cpu_seconds: int = 0  # process backend RLIMIT_CPU per pump lifetime; 0: unlimited
    pump_open_files: int = 1024  # process backend RLIMIT_NOFILE
    pump_user_processes: int = 4096  # process backend RLIMIT_NPROC (counts the whole user)
    pump_start_timeout_seconds: float = 30.0  # started but no heartbeat by then: a failed start
    pump_stop_timeout_seconds: float = 30.0  # SIGTERM drain before SIGKILL
    pump_crash_limit: int = 5  # crashes within the window that mark the flow `error`
    pump_crash_window_seconds: float = 600.0
    pump_restart_backoff_seconds: float = 1.0  # first restart delay, doubled per crash
    pump_restart_backoff_max_seconds: float = 60.0
    pump_idle_stop_seconds: int | None = None  # overrides every tier's idle_stop_seconds
    reconcile_interval_seconds: float = 5.0
    # the reconciler leader's lease: renewed every third of it; a crashed leader is replaced
    # after at most this long
    reconciler_lease_seconds: float = Field(default=3.0, gt=0.1)
    reconciler_lock_key: str = ""  # empty: derived from the database URL (one leader per DB)
    # Fernet key for flow secrets at rest; empty: generated once into <data_dir>/secrets.key
    secrets_key: str = ""
    docker_url: str = ""  # empty: DOCKER_HOST or the local socket
    docker_network: str = "flowplane"
    kubernetes_namespace: str = "flowplane"
    kubernetes_kubeconfig: str = ""  # empty: in-cluster configuration, else ~/.kube/config
    kubernetes_redis_pod_labels: dict[str, str] = {"app.kubernetes.io/name": "redis"}
    kubernetes_redis_port: int = 6379

    # --- modules (control_plane/modules/README.md) ---------------------------------------------
    module_toolchain_dir: Path | None = None  # node_modules of AssemblyScript; None: built-in
    module_build_timeout_seconds: float = 60.0  # wall time of one sandboxed `asc` build
    module_build_memory_bytes: int = 1024**3  # RLIMIT_DATA of the compiler process
    module_build_concurrency: int = 1  # builds at once per control-plane process
    module_builds_per_minute: int = 10  # per workspace
    module_test_runs_per_minute: int = 60  # per workspace (the editor's Test panel)
    module_max_source_bytes: int = 256 * 1024
    module_max_wasm_bytes: int = (
        2 * 1024 * 1024
    )  # uploads travel as base64 within api_max_body_bytes

    # --- billing (control_plane/billing/README.md): Stripe when STRIPE_SECRET_KEY is set -----
    stripe_secret_key: str = Field(default="", validation_alias=_env("STRIPE_SECRET_KEY"))
    stripe_webhook_secret: str = Field(default="", validation_alias=_env("STRIPE_WEBHOOK_SECRET"))
    stripe_price_paid: str = Field(default="", validation_alias=_env("STRIPE_PRICE_PAID"))
    stripe_price_pro: str = Field(default="", validation_alias=_env("STRIPE_PRICE_PRO"))
    # a Stripe-compatible endpoint instead of https://api.stripe.com (tests, proxies)
    stripe_api_base: str = Field(default="", validation_alias=_env("STRIPE_API_BASE"))
    # the Billing Meter event name that Pro overage executions are reported to
    stripe_meter_event: str = Field(
        default="flowplane_executions", validation_alias=_env("STRIPE_METER_EVENT")
    )
    billing_grace_period_hours: float = 72.0  # after a failed payment, then the Free plan
    billing_interval_seconds: float = 300.0  # overage reports and grace-period expiry

    # --- Clerk sign-in (control_plane/accounts/README.md): when CLERK_ISSUER is set ----------
    clerk_issuer: str = Field(default="", validation_alias=_env("CLERK_ISSUER"))
    # empty: <issuer>/.well-known/jwks.json
    clerk_jwks_url: str = Field(default="", validation_alias=_env("CLERK_JWKS_URL"))
    clerk_webhook_secret: str = Field(default="", validation_alias=_env("CLERK_WEBHOOK_SECRET"))
    # the `azp` claims accepted, comma-separated origins; empty: the public URL's origin (if set)
    clerk_authorized_parties: str = Field(
        default="", validation_alias=_env("CLERK_AUTHORIZED_PARTIES")
    )
    clerk_publishable_key: str = Field(
        default="", validation_alias=_env("CLERK_PUBLISHABLE_KEY")
    )  # handed to the editor's sign-in
    clerk_jwks_cache_seconds: float = 3600.0

    # --- marketplace (control_plane/marketplace/README.md) -------------------------------------
    # base64 of a raw 32-byte Ed25519 private key signing published versions; empty: generated
    # once into <data_dir>/marketplace-signing.key (every replica must share it)
    marketplace_signing_key: str = ""
    # comma-separated e-mails of platform operators (unlist/remove listings, yank versions)
    admin_emails: str = ""

    # --- triggers and executions (control_plane/triggers/README.md, executions/README.md) ------
    webhook_max_body_bytes: int = 1024 * 1024  # larger webhook bodies get 413
    # backpressure (triggers/README.md): triggers waiting or running per flow, past which new
    # ones get 429 (None: the tier's max_queued_per_flow); triggers being admitted at once in
    # this process, past which new ones get 503
    max_queued_per_flow: int | None = None
    max_in_flight_triggers: int = 1000
    queue_depth_cache_seconds: float = 0.25  # how long a flow's queue depth reading is reused
    trigger_wait_timeout_seconds: float = 30.0  # bound of `?wait=true` on the Run button
    trigger_flow_cache_seconds: float = 1.0  # how long a flow's trigger lookup is reused
    trigger_admission_workers: int = 3  # concurrent group-commit batches of trigger inserts
    trigger_admission_max_batch: int = 256  # triggers committed in one transaction at most
    quota_refresh_seconds: float = 5.0  # how often monthly usage is re-read from the database
    execution_input_max_bytes: int = 256 * 1024  # larger inputs are stored truncated
    execution_outputs_max_bytes: int = 256 * 1024
    execution_step_max_bytes: int = 16 * 1024  # per step input and output
    recorder_batch_size: int = 1000  # stream entries per recorder round (one may hold many events)
    recorder_block_ms: int = 250
    recorder_linger_ms: int = 20  # pause after a round short of a full batch (bigger batches)
    recorder_refresh_seconds: float = 2.0  # how often the set of event streams is re-read
    recorder_claim_idle_seconds: float = 30.0  # events pending this long at a dead recorder
    retention_interval_seconds: float = 3600.0
    retention_batch_size: int = 1000  # executions deleted per statement
    scheduler_interval_seconds: float = 1.0
    # Test hook: "second" reads a cron's minute field as seconds, so "*/2 * * * *" fires every
    # two seconds. Never set it in production.
    scheduler_tick_unit: Literal["minute", "second"] = "minute"
    reaper_interval_seconds: float = 15.0
    reaper_grace_seconds: float = 30.0  # queued this long without a stream entry: reaped
    # Waits, one-off jobs, callbacks and stall detection (control_plane/waits, jobs, callbacks)
    wait_poll_seconds: float = 0.5  # how often due timers, timeouts and one-off jobs are fired
    wait_recover_seconds: float = 30.0  # a claimed resume not on the stream this long: re-sent
    # Seconds between delivery attempts of a completion callback; after the last one fails the
    # execution is marked callback_failed. Comma-separated.
    callback_retry_schedule: str = "30,60,300,900,3600"
    callback_timeout_seconds: float = 10.0
    callback_replay_window_seconds: int = 300  # documented for receivers checking `t=`
    stall_grace_seconds: float = 30.0  # running, silent past limits.timeout_seconds + this
    stall_interval_seconds: float = 10.0

    @property
    def stripe_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def clerk_enabled(self) -> bool:
        return bool(self.clerk_issuer)

    @property
    def new_workspace_plan(self) -> str:
        """New workspaces' plan: `self-hosted` (no limits) unless Stripe bills them."""
        if self.default_tier is not None:
            return self.default_tier
        return "free" if self.stripe_enabled else "self-hosted"

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
