"""The one settings object.

Every knob is read from the environment with the ``REELFLOW_`` prefix; the names the seed project
used (``ENABLE_GPU_ACCELERATION``, ``MAX_PARALLEL_VIDEOS``, ...) are accepted as aliases so old
deployments keep working. Nothing is read at import time: call `get_settings()` (or build
`Settings(...)` in a test) and pass the object on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The API answers only these Host headers unless told otherwise (`api_trusted_hosts`).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def _env(name: str, *legacy: str) -> AliasChoices:
    return AliasChoices(f"REELFLOW_{name}", *legacy)


class Settings(BaseSettings):
    """Runtime configuration of reelflow (engine, orchestration, API)."""

    model_config = SettingsConfigDict(
        env_prefix="REELFLOW_",
        env_file=None,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    data_dir: Path = Field(
        default=Path("data"),
        validation_alias=_env("DATA_DIR"),
        description="Root of all local state: uploads, outputs, result cache, music cache.",
    )
    enable_gpu_acceleration: bool = Field(
        default=True,
        validation_alias=_env("ENABLE_GPU_ACCELERATION", "ENABLE_GPU_ACCELERATION"),
        description="Allow NVENC when a probe encode succeeds; false forces libx264.",
    )
    max_parallel_videos: int = Field(
        default=2,
        ge=1,
        le=64,
        validation_alias=_env("MAX_PARALLEL_VIDEOS", "MAX_PARALLEL_VIDEOS"),
    )
    max_parallel_batches: int = Field(
        default=8,
        ge=1,
        le=256,
        validation_alias=_env("MAX_PARALLEL_BATCHES"),
        description="Batch runs at once (the batch pool's limit); they only wait for children.",
    )
    max_queued_per_user: int = Field(
        default=10,
        ge=0,
        le=10_000,
        validation_alias=_env("MAX_QUEUED_PER_USER"),
        description="Reels one user may have waiting plus running (a batch counts each reel); "
        "beyond it the API answers 429 with Retry-After. 0 = no cap.",
    )
    fair_share_tiers: int = Field(
        default=10,
        ge=1,
        le=50,
        validation_alias=_env("FAIR_SHARE_TIERS"),
        description="Queues per plan: a user's n-th waiting reel waits in tier n, so every "
        "user's first reel starts before anyone's second (deployments/queues.py).",
    )
    queue_status_refresh_s: float = Field(
        default=5.0,
        ge=0.5,
        le=300,
        validation_alias=_env("QUEUE_STATUS_REFRESH_S"),
        description="Queue positions are read from Prefect at most this often (per API process, "
        "and only while someone asks).",
    )
    api_run_creations: int = Field(
        default=1,
        ge=1,
        le=64,
        validation_alias=_env("API_RUN_CREATIONS"),
        description="Requests creating flow runs that one API process has under way at once; "
        "triggers arriving meanwhile wait and are created together in the next one "
        "(reelflow/api/creation.py). One is fastest on SQLite and PostgreSQL alike: larger "
        "groups cost the server less per run.",
    )
    worker_stop_grace_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        validation_alias=_env("WORKER_STOP_GRACE_S"),
        description="How long a stopping worker lets its reels finish before handing them back.",
    )
    cache_retention_days: float = Field(
        default=30,
        ge=0,
        validation_alias=_env("CACHE_RETENTION_DAYS"),
        description="`reelflow prune` removes step cache entries unused for this many days "
        "(0: never). A removed entry is computed again when next needed.",
    )
    output_retention_days: float = Field(
        default=0,
        ge=0,
        validation_alias=_env("OUTPUT_RETENTION_DAYS"),
        description="`reelflow prune` removes finished reels older than this many days (0: keep "
        "them; users delete them with their project).",
    )
    worker_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        validation_alias=_env("WORKER_NICENESS"),
        description="How much a worker and its renders yield the CPU (Unix nice): on a host "
        "that also serves the API or the Prefect server, triggers and status stay fast while "
        "renders run. 0 on dedicated render hosts loses nothing.",
    )
    websocket_ping_interval: float = Field(
        default=20.0,
        gt=0,
        validation_alias=_env("WEBSOCKET_PING_INTERVAL", "WEBSOCKET_PING_INTERVAL"),
    )
    progress_update_interval: float = Field(
        default=0.5,
        gt=0,
        validation_alias=_env("PROGRESS_UPDATE_INTERVAL", "PROGRESS_UPDATE_INTERVAL"),
        description="Minimum seconds between two render-progress events of one run.",
    )
    music_library_path: Path | None = Field(
        default=None,
        validation_alias=_env("MUSIC_LIBRARY_PATH", "MUSIC_LIBRARY_PATH"),
        description="Folder of synthesised preset tracks; defaults to <data_dir>/music.",
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=_env("REDIS_URL", "REDIS_URL"),
    )
    redis_key_prefix: str = Field(
        default="reelflow",
        validation_alias=_env("REDIS_KEY_PREFIX"),
        description="Prefix of every Redis key and channel, so instances can share a server.",
    )
    progress_ttl_s: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        validation_alias=_env("PROGRESS_TTL_S"),
        description="How long task status hashes and event streams are kept in Redis.",
    )
    progress_stream_maxlen: int = Field(
        default=2_000,
        ge=10,
        validation_alias=_env("PROGRESS_STREAM_MAXLEN"),
        description="Events kept per task for replay (approximate trim).",
    )
    progress_flush_timeout_s: float = Field(
        default=120.0,
        ge=0,
        validation_alias=_env("PROGRESS_FLUSH_TIMEOUT_S"),
        description="How long a finishing run keeps retrying undelivered events before "
        "spooling them to disk for the next process to deliver.",
    )
    webhook_allow_private: bool = Field(
        default=False,
        validation_alias=_env("WEBHOOK_ALLOW_PRIVATE"),
        description="Deliver webhooks to loopback, private and link-local addresses too (off: a "
        "user's URL must not reach the services beside the API; on for a closed network).",
    )
    webhook_max_attempts: int = Field(
        default=10,
        ge=1,
        validation_alias=_env("WEBHOOK_MAX_ATTEMPTS"),
        description="POSTs of one webhook event before it is given up (logged, not retried).",
    )
    webhook_backoff_s: float = Field(
        default=2.0,
        gt=0,
        validation_alias=_env("WEBHOOK_BACKOFF_S"),
        description="Wait before the first webhook retry; doubles each time, up to "
        "webhook_backoff_max_s.",
    )
    webhook_backoff_max_s: float = Field(
        default=300.0, gt=0, validation_alias=_env("WEBHOOK_BACKOFF_MAX_S")
    )
    webhook_timeout_s: float = Field(
        default=10.0,
        gt=0,
        validation_alias=_env("WEBHOOK_TIMEOUT_S"),
        description="How long one webhook POST may take before it counts as failed.",
    )
    webhook_lease_s: float = Field(
        default=600.0,
        gt=0,
        validation_alias=_env("WEBHOOK_LEASE_S"),
        description="An event whose delivering API process went silent this long is taken over "
        "by another (or by the next start); must exceed webhook_backoff_max_s.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=_env("DATABASE_URL"),
        description="SQLAlchemy URL of the project store; SQLite under data_dir by default.",
    )
    sqlite_synchronous: Literal["NORMAL", "FULL"] = Field(
        default="NORMAL",
        validation_alias=_env("SQLITE_SYNCHRONOUS"),
        description="SQLite store only: FULL waits for the disk at every commit (survives a power "
        "cut); NORMAL does not (survives a crashed process; a power cut may lose the last "
        "commits). Use PostgreSQL (database_url) where neither will do.",
    )
    max_upload_mb: float = Field(
        default=200.0,
        gt=0,
        validation_alias=_env("MAX_UPLOAD_MB"),
        description="Largest accepted upload (voice, music, background), in MB.",
    )
    storage_quota_mb: float = Field(
        default=2048.0,
        ge=0,
        validation_alias=_env("STORAGE_QUOTA_MB"),
        description="Disk one user's uploads may take, in MB (0 = no limit): an upload that "
        "would pass it is refused (413) while streaming, before its bytes are kept.",
    )
    max_upload_duration_s: float = Field(
        default=900.0,
        gt=0,
        le=24 * 3600,
        validation_alias=_env("MAX_UPLOAD_DURATION_S"),
        description="Longest accepted audio or video upload, in seconds: checked by probing "
        "before anything is decoded, and decoding stops just past it.",
    )
    media_check_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        validation_alias=_env("MEDIA_CHECK_TIMEOUT_S"),
        description="Longest an upload's media check (one ffmpeg pass) may take.",
    )
    prefect_database_url: str | None = Field(
        default=None,
        validation_alias=_env("PREFECT_DATABASE_URL"),
        description="Database of the Prefect server `reelflow up` starts (postgresql+asyncpg://"
        "...); SQLite under data_dir when unset. Use PostgreSQL for concurrent runs.",
    )
    result_storage_url: str | None = Field(
        default=None,
        validation_alias=_env("RESULT_STORAGE_URL"),
        description="Where Prefect keeps task results and cache records: a folder (default "
        "<data_dir>/results) or an fsspec URL (s3://...) shared by every worker host.",
    )
    flow_heartbeat_s: int = Field(
        default=30,
        ge=30,
        validation_alias=_env("FLOW_HEARTBEAT_S"),
        description="Flow-run heartbeat period; a run silent for three periods is crashed and "
        "resubmitted (Prefect requires at least 30 s).",
    )
    inject_faults: str = Field(
        default="",
        validation_alias=_env("INJECT_FAULTS"),
        description="Chaos testing only: 'task-name:N,...' makes the first N attempts of each "
        "named task fail with a transient error.",
    )
    api_reel_deployment: str | None = Field(
        default=None,
        validation_alias=_env("API_REEL_DEPLOYMENT"),
        description="Deployment the API triggers for one reel; default generate-reel/gpu when "
        "GPU acceleration is on and this host has an NVIDIA device, else generate-reel/cpu.",
    )
    api_batch_deployment: str = Field(
        default="generate-batch/batch", validation_alias=_env("API_BATCH_DEPLOYMENT")
    )
    api_rate_limit_reels: int = Field(
        default=30,
        ge=0,
        validation_alias=_env("API_RATE_LIMIT_REELS"),
        description="Reels a user may start per window (a batch counts each reel); 0 = no limit.",
    )
    api_rate_limit_window_s: int = Field(
        default=60, ge=1, validation_alias=_env("API_RATE_LIMIT_WINDOW_S")
    )
    api_cors_origins: list[str] = Field(
        default_factory=list,
        validation_alias=_env("API_CORS_ORIGINS"),
        description="Origins allowed to call the API from a browser (JSON list); none by default.",
    )
    api_trusted_hosts: list[str] = Field(
        default_factory=lambda: list(LOOPBACK_HOSTS),
        validation_alias=_env("API_TRUSTED_HOSTS", "REELFLOW_TRUSTED_HOSTS"),
        description="Host headers the API answers (JSON list); loopback names by default. "
        'Add the public name a proxy forwards (or ["*"] to answer any).',
    )
    api_max_request_mb: float | None = Field(
        default=None,
        gt=0,
        validation_alias=_env("API_MAX_REQUEST_MB"),
        description="Largest request body; default 4 x max_upload_mb + 1 (a project's files).",
    )
    api_max_run_parameters_kb: int = Field(
        default=500,
        ge=16,
        le=100_000,
        validation_alias=_env("API_MAX_RUN_PARAMETERS_KB"),
        description="Largest JSON a run's parameters may take (a batch carries every project's "
        "spec); keep it under the Prefect server's PREFECT_SERVER_API_MAX_PARAMETER_SIZE "
        "(512 KiB).",
    )
    api_max_json_kb: int = Field(
        default=1024,
        ge=1,
        le=64 * 1024,
        validation_alias=_env("API_MAX_JSON_KB"),
        description="Largest body of a route that takes no uploads (JSON), in KiB.",
    )
    api_docs: bool = Field(
        default=False,
        validation_alias=_env("API_DOCS"),
        description="Serve /docs, /redoc and /openapi.json (off: they map the attack surface).",
    )
    ws_max_per_user: int = Field(
        default=5,
        ge=1,
        le=1000,
        validation_alias=_env("WS_MAX_PER_USER"),
        description="Progress sockets one user may hold open (per API process).",
    )
    ws_outbox_max: int = Field(
        default=1000,
        ge=10,
        le=100_000,
        validation_alias=_env("WS_OUTBOX_MAX"),
        description="Messages queued for a socket that does not read; beyond it the socket is "
        "closed (1008) and the client reconnects and replays.",
    )
    ws_replays_per_minute: int = Field(
        default=30,
        ge=1,
        le=10_000,
        validation_alias=_env("WS_REPLAYS_PER_MINUTE"),
        description="Replay requests ({task_id, after_seq}) one socket may make per minute "
        "(bursts of up to a third of it); more are answered with an error, unserved.",
    )
    ws_auth_timeout_s: float = Field(
        default=3.0,
        gt=0,
        le=60,
        validation_alias=_env("WS_AUTH_TIMEOUT_S"),
        description="How long an unauthenticated socket is held waiting for its token.",
    )
    ws_query_token: bool = Field(
        default=False,
        validation_alias=_env("WS_QUERY_TOKEN"),
        description="Also accept ?token= on the socket URL (old clients). Off: URLs end up in "
        "proxy logs; reelflow's own logs redact it either way.",
    )
    prefect_api_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REELFLOW_PREFECT_API_URL", "PREFECT_API_URL"),
        description="The Prefect API the API triggers runs on; without one it answers 503.",
    )
    ffmpeg_threads: int = Field(
        default=0,
        ge=0,
        validation_alias=_env("FFMPEG_THREADS"),
        description="Encoder threads; 0 lets ffmpeg decide.",
    )

    @property
    def music_dir(self) -> Path:
        return self.music_library_path or self.data_dir / "music"

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def store_url(self) -> str:
        """The project store's SQLAlchemy URL (SQLite under the data folder by default)."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'reelflow.db').resolve()}"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def output_dir(self) -> Path:
        return self.data_dir / "outputs"


def get_settings() -> Settings:
    """Read settings from the environment now (no module-level cache, so tests stay isolated)."""
    return Settings()
