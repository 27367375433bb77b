"""Hostile uploads: too long, too many, playlists that point elsewhere; refused before decoding."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import imageio_ffmpeg
import pytest

from reelflow.engine.errors import InputError
from reelflow.store import Store
from reelflow.store.media_check import MediaLimits, check_media
from tests import mediatools
from tests.security.conftest import API, rss_mb

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()


def _wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", f"sine=f=220:r={rate}:d={seconds}",
         "-ac", "1", "-c:a", "pcm_u8", "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_a_long_upload_is_refused_by_its_probe_before_decoding(settings, tmp_path):
    # 20 minutes of 8-bit 8 kHz audio: 9.6 MB, decodes to 230 MB of float32 at 48 kHz
    long = _wav(tmp_path / "long.wav", 1200)
    big = settings.model_copy(update={"max_upload_mb": 20.0, "max_upload_duration_s": 900.0})
    with Store(big) as store:
        user, _ = store.create_user("long")
        before, started = rss_mb(), time.monotonic()
        with pytest.raises(InputError) as caught:
            store.save_upload(user.id, "music", long.open("rb"), filename="long.wav")
        elapsed = time.monotonic() - started
        assert store.list_uploads(user.id) == []
    assert caught.value.field == "music" and "at most 900 s" in caught.value.reason
    assert elapsed < 3, f"the check took {elapsed:.1f} s: it decoded the file"
    assert rss_mb() - before < 50
    assert not any(p.is_file() for p in big.uploads_dir.rglob("*"))


def test_decoding_stops_past_the_limit_when_the_header_is_silent(tmp_path):
    # a raw ADTS/mp3-like stream states no length: the bounded decode finds it too long
    path = tmp_path / "long.mp3"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=d=12", "-c:a", "libmp3lame",
         "-write_xing", "0", "-y", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    limits = MediaLimits(max_duration_s=5.0, timeout_s=30.0)
    with pytest.raises(InputError) as caught:
        check_media(path, kind="music", field="file", name="long.mp3", limits=limits)
    assert caught.value.field == "file" and "5 s" in caught.value.reason
    short = _wav(tmp_path / "short.wav", 2.0)
    facts = check_media(short, kind="music", field="file", name="short.wav", limits=limits)
    assert facts.media == "audio" and abs(facts.duration_s - 2.0) < 0.1


@pytest.mark.parametrize(
    "name, text",
    [
        (
            "list.m3u8",
            "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{wav}\n#EXT-X-ENDLIST\n",
        ),
        ("list.txt", "ffconcat version 1.0\nfile {wav}\n"),
        ("list.m3u8", "#EXTM3U\n#EXTINF:1,\nhttp://127.0.0.1:9/x.ts\n#EXT-X-ENDLIST\n"),
        ("x.sdp", "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nm=audio 9 RTP/AVP 0\n"),
    ],
)
def test_playlists_and_network_descriptions_are_not_followed(sec_client, mallory, tmp_path,
                                                             name, text):  # fmt: skip
    wav = mediatools.tone(tmp_path / "real.wav", hz=440, seconds=1.0)
    body = text.format(wav=wav).encode()
    response = sec_client.post(
        f"{API}/music", headers=mallory.headers, files={"file": (name, body, "audio/x-mpegurl")}
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "file"


def test_too_many_backgrounds_are_refused_before_any_is_stored(sec_client, mallory, sec_settings):
    files = [("background", (f"b{i}.png", b"x", "image/png")) for i in range(51)]
    form = {"title": "t", "script": "Hello there."}
    started = time.monotonic()
    response = sec_client.post(f"{API}/projects", headers=mallory.headers, data=form, files=files)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "background" and "at most 50" in response.json()["detail"]
    assert time.monotonic() - started < 5
    mine = sec_settings.uploads_dir / mallory.id
    assert not mine.exists() or not any(mine.iterdir())


def test_media_checks_run_on_the_stores_own_pool(settings):
    with Store(settings) as store:
        assert store.media_pool._max_workers == 2
        assert store.media_limits.timeout_s == settings.media_check_timeout_s
