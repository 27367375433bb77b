"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests get a schema of their own (``test_<random>``, selected with ``search_path`` in
the URL and dropped afterwards), so they never see or touch other data in the database. If the
server is down they are skipped with the command that starts it; set
``REELFLOW_REQUIRE_POSTGRES=1`` to make that a failure instead (CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from reelflow.engine import ffmpeg
from reelflow.settings import Settings
from reelflow.store import Store
from tests import mediatools
from tests.services import missing_service

PG_URL = os.environ.get(
    "REELFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL store tests NOT RUN: {reason}. Start it with: {PG_START}"
    if os.environ.get("REELFLOW_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    missing_service(message)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An autocommit engine on the test database, for creating and dropping schemas."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("the psycopg driver is missing (pip install 'psycopg[binary]')")
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        engine.dispose()
        _unavailable(f"cannot connect to {engine.url} ({str(exc).splitlines()[0]})")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite (the settings' default file under data_dir), else a PostgreSQL URL."""
    if request.param == "sqlite":
        yield None
        return
    admin: Engine = request.getfixturevalue("pg_admin")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def store_settings(settings: Settings, database_url: str | None) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    with Store(store_settings) as opened:
        yield opened


@pytest.fixture
def alice(store: Store):
    return store.create_user("Alice")[0]


@pytest.fixture
def bob(store: Store):
    return store.create_user("Bob")[0]


# Media, made once per session with the bundled ffmpeg.


def _tone(path: Path, seconds: float, *extra: str) -> Path:
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", *extra,
         os.fspath(path)]
    )  # fmt: skip
    return path


@pytest.fixture(scope="session")
def wav_file(media: Path) -> Path:
    return _tone(media / "tone.wav", 1)


@pytest.fixture(scope="session")
def mp3_file(media: Path) -> Path:
    return _tone(media / "tone.mp3", 1)


@pytest.fixture(scope="session")
def truncated_mp3(media: Path) -> Path:
    whole = _tone(media / "long.mp3", 4)
    cut = media / "truncated.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


@pytest.fixture(scope="session")
def mp3_with_cover(media: Path, mp3_file: Path, png_file: Path) -> Path:
    out = media / "cover.mp3"
    ffmpeg.run(
        ["-loglevel", "error", "-i", os.fspath(mp3_file), "-i", os.fspath(png_file),
         "-map", "0", "-map", "1", "-c", "copy", "-disposition:v", "attached_pic",
         os.fspath(out)]
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def png_file(media: Path) -> Path:
    return mediatools.solid_image(media / "still.png", "orange", size="64x64")


@pytest.fixture(scope="session")
def video_file(media: Path) -> Path:
    return mediatools.lavfi_video(media / "clip.mp4", "testsrc2", seconds=1.0, size="160x120")


@pytest.fixture(scope="session")
def video_with_sound(media: Path) -> Path:
    out = media / "talk.mp4"
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=1",
         "-f", "lavfi", "-i", "sine=d=1", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", os.fspath(out)]
    )  # fmt: skip
    return out


@pytest.fixture(scope="session")
def text_as_wav(media: Path) -> Path:
    path = media / "notes.wav"
    path.write_text("These are my notes, not a recording.\n" * 20)
    return path
