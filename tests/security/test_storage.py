"""A user's disk: a storage quota refused while streaming, and uploads the owner can delete."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import imageio_ffmpeg
import pytest
from fastapi.testclient import TestClient

from reelflow.api.config import ApiConfig
from reelflow.settings import Settings
from reelflow.store import Store
from tests.api.helpers import ApiUser
from tests.apps import app_without_prefect
from tests.security.conftest import API

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
QUOTA_MB = 0.05  # 52 KB: three seconds of 8 kHz 8-bit audio fit, six do not


def _wav(path: Path, seconds: float) -> bytes:
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"sine=f=220:r=8000:d={seconds}",
         "-ac", "1", "-c:a", "pcm_u8", "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def small(sec_settings: Settings) -> Settings:
    return sec_settings.model_copy(update={"storage_quota_mb": QUOTA_MB})


@pytest.fixture(scope="module")
def quota_client(small: Settings) -> Iterator[TestClient]:
    config = replace(ApiConfig.from_settings(small), prefect_api_url=None)
    with TestClient(app_without_prefect(small, config)) as client:
        yield client


def _user(store: Store, name: str) -> ApiUser:
    user, token = store.create_user(name)
    return ApiUser(id=user.id, token=token)


def _files(settings: Settings, user: ApiUser) -> list[Path]:
    folder = settings.uploads_dir / user.id
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _music(client: TestClient, user: ApiUser, data: bytes, name: str = "t.wav"):
    return client.post(f"{API}/music", headers=user.headers, files={"file": (name, data)})


def test_an_upload_past_the_quota_is_refused_before_it_is_kept(
    quota_client, small, sec_store, tmp_path
):
    user = _user(sec_store, "quota")
    short, long = _wav(tmp_path / "s.wav", 2.0), _wav(tmp_path / "l.wav", 6.0)
    assert len(long) < small.max_upload_mb * 2**20  # within the per-file limit: the quota bites
    first = _music(quota_client, user, short)
    assert first.status_code == 201, first.text
    refused = _music(quota_client, user, long)
    assert refused.status_code == 413, refused.text
    body = refused.json()
    assert body["field"] == "file" and "storage quota" in body["message"]
    assert len(_files(small, user)) == 1  # only the first file
    assert not any((small.uploads_dir / ".incoming").iterdir())  # nothing half-kept

    # A project's voice counts too, and is named by its own field.
    project = quota_client.post(
        f"{API}/projects",
        headers=user.headers,
        data={"title": "t", "transcript": "hello"},
        files={"voiceover": ("v.wav", long)},
    )
    assert project.status_code == 413 and project.json()["field"] == "voiceover"
    assert len(_files(small, user)) == 1

    # Deleting gives the room back.
    gone = quota_client.delete(f"{API}/music/{first.json()['id']}", headers=user.headers)
    assert gone.status_code == 204
    assert _music(quota_client, user, long).status_code == 201


def test_a_full_quota_refuses_at_once(quota_client, small, sec_store, tmp_path):
    user = _user(sec_store, "full")
    clip = _wav(tmp_path / "c.wav", 2.5)  # 20 KB: two fit in 52 KB, a third does not
    assert _music(quota_client, user, clip).status_code == 201
    assert _music(quota_client, user, clip).status_code == 201
    third = _music(quota_client, user, clip)
    assert third.status_code == 413 and third.json()["field"] == "file"
    assert len(_files(small, user)) == 2
    assert sec_store.storage_used(user.id) <= QUOTA_MB * 2**20


def test_music_is_deleted_by_its_owner_only_and_not_while_a_project_uses_it(
    sec_client, sec_settings, sec_store, tmp_path
):
    alice, bob = _user(sec_store, "alice-music"), _user(sec_store, "bob-music")
    track = _music(sec_client, alice, _wav(tmp_path / "m.wav", 2.0))
    assert track.status_code == 201
    track_id = track.json()["id"]
    (path,) = _files(sec_settings, alice)

    for url in (f"{API}/music/{track_id}", f"{API}/uploads/{track_id}"):
        other = sec_client.delete(url, headers=bob.headers)
        assert other.status_code == 404 and other.json()["field"] == "upload_id"
    assert path.is_file()

    project = sec_client.post(
        f"{API}/projects",
        headers=alice.headers,
        data={"title": "t", "script": "Hello there.", "music_upload_id": track_id},
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    used = sec_client.delete(f"{API}/music/{track_id}", headers=alice.headers)
    assert used.status_code == 409, used.text
    assert used.json()["field"] == "upload_id" and project_id in used.json()["message"]
    assert path.is_file()

    assert (
        sec_client.delete(f"{API}/projects/{project_id}", headers=alice.headers).status_code == 204
    )
    assert path.is_file()  # music stays in the library when its project goes
    assert sec_client.delete(f"{API}/music/{track_id}", headers=alice.headers).status_code == 204
    assert not path.exists()
    library = sec_client.get(f"{API}/video/music-library", headers=alice.headers).json()
    assert track_id not in {t["id"] for t in library}
    again = sec_client.delete(f"{API}/music/{track_id}", headers=alice.headers)
    assert again.status_code == 404


def test_a_voice_upload_is_not_music_and_goes_only_with_its_project(
    sec_client, sec_settings, sec_store, tmp_path
):
    alice = _user(sec_store, "alice-voice")
    project = sec_client.post(
        f"{API}/projects",
        headers=alice.headers,
        data={"title": "t", "transcript": "hello"},
        files={"voiceover": ("v.wav", _wav(tmp_path / "v.wav", 2.0))},
    )
    assert project.status_code == 201, project.text
    voice_id = project.json()["voiceover"]["id"]
    not_music = sec_client.delete(f"{API}/music/{voice_id}", headers=alice.headers)
    assert not_music.status_code == 404
    in_use = sec_client.delete(f"{API}/uploads/{voice_id}", headers=alice.headers)
    assert in_use.status_code == 409 and in_use.json()["field"] == "upload_id"
    assert len(_files(sec_settings, alice)) == 1
