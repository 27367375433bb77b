"""Engine, schema creation and sessions shared by the store's parts.

SQLite (a file under the data folder) is the default; any SQLAlchemy URL works, and the store is
tested on PostgreSQL too. Tables are created on start with ``metadata.create_all``, which adds
missing tables but never alters existing ones: once a deployed schema has to change, that change
needs an Alembic migration.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from reelflow.settings import Settings
from reelflow.store.media_check import MediaLimits
from reelflow.store.schema import Base
from reelflow.store.uploads import remove_stale_incoming

MEDIA_CHECKS_AT_ONCE = 2

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same in every process that creates the schema.
_SCHEMA_LOCK_KEY = 0x7265656C


def make_engine(url: str, *, sqlite_synchronous: str = "NORMAL") -> Engine:
    """An engine for `url`, with the per-backend settings the store relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pre_ping: an API that outlives a database restart reconnects instead of failing once.
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", functools.partial(_sqlite_on_connect, sqlite_synchronous))
    return engine


def _sqlite_on_connect(synchronous: str, dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys (and so ON DELETE actions) unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets API workers read while another writes; busy_timeout makes writers queue.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    # NORMAL: in WAL mode a commit no longer waits for the disk (a crashed process loses
    # nothing; a power cut may lose the last commits, never the file's consistency). Every
    # accepted trigger commits: under a burst the wait for the disk was most of its tail
    # (bench/README.md, Backlog). FULL (sqlite_synchronous) waits again.
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()


def create_schema(engine: Engine, *, attempts: int = 3) -> None:
    """Create missing tables. Safe when several processes start at once."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    # create_all checks then creates; serialise starters so none sees half a schema.
                    lock = text("SELECT pg_advisory_xact_lock(:key)")
                    conn.execute(lock, {"key": _SCHEMA_LOCK_KEY})
                Base.metadata.create_all(conn)
                _add_missing_columns(conn)
            return
        except DBAPIError:
            if attempt == attempts:
                raise
            log.warning("creating the store schema failed (attempt %d), retrying", attempt)


# Columns added after a table was first created: create_all does not alter existing tables.
_ADDED_COLUMNS = {
    ("users", "token_expires_at"): "TIMESTAMP WITH TIME ZONE NULL",
    ("tasks", "flow_run_id"): "VARCHAR(64) NULL",
    ("tasks", "run_key"): "VARCHAR(64) NULL",
    ("tasks", "creation"): "JSON NULL",
    ("tasks", "pending"): "BOOLEAN NOT NULL DEFAULT FALSE",
}
# ... and their indexes (IF NOT EXISTS: the same names create_all gives a new table)
_ADDED_INDEXES = (
    "CREATE INDEX IF NOT EXISTS ix_tasks_flow_run_id ON tasks (flow_run_id)",
    "CREATE INDEX IF NOT EXISTS ix_tasks_pending ON tasks (pending)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ux_tasks_user_run_key ON tasks (user_id, run_key)",
)


def _add_missing_columns(conn) -> None:
    inspector = inspect(conn)
    added = False
    for (table, column), kind in _ADDED_COLUMNS.items():
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
            added = True
    if added:
        for statement in _ADDED_INDEXES:
            conn.execute(text(statement))


class Database:
    """Connection, sessions and file housekeeping; the `Store` adds the queries."""

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        self.settings = settings
        self.url = url or settings.store_url
        self.uploads_dir = settings.uploads_dir.resolve()
        self.max_upload_bytes = int(settings.max_upload_mb * 2**20)
        self.quota_bytes = int(settings.storage_quota_mb * 2**20)  # 0: no quota
        self.media_limits = MediaLimits(
            max_duration_s=settings.max_upload_duration_s,
            timeout_s=settings.media_check_timeout_s,
        )
        # Media checks (ffmpeg) run here, off the default pool; two at a time per process.
        self.media_pool = ThreadPoolExecutor(MEDIA_CHECKS_AT_ONCE, thread_name_prefix="media-check")
        self.engine = make_engine(self.url, sqlite_synchronous=settings.sqlite_synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        create_schema(self.engine)
        remove_stale_incoming(self.uploads_dir)

    @classmethod
    def from_url(cls, url: str, *, data_dir: Path = Path("data")) -> Self:
        """A store on `url` keeping uploads under `data_dir` (other settings at defaults)."""
        return cls(Settings(data_dir=data_dir, database_url=url))

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (or another SQLAlchemy dialect name)."""
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Objects stay readable after the block (``expire_on_commit=False``, relationships loaded
        eagerly), which is what lets the store return them.
        """
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> bool:
        """Whether the database answers (for health checks)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError:
            return False
        return True

    def close(self) -> None:
        """Close pooled connections and the media-check threads."""
        self.media_pool.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _remove_files(self, rel_paths: Iterable[str]) -> None:
        # Called only after the commit that dropped the rows: a failure here leaves a stray
        # file, never a row pointing at a missing file.
        for rel_path in rel_paths:
            path = self.uploads_dir / rel_path
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove upload %s: %s", path, exc)
