"""Uploads: checked by content, size-capped while streaming, stored under generated names."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.errors import InputError
from reelflow.settings import Settings
from reelflow.store import Store, display_name


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def save(store: Store, user_id: str, kind: str, path: Path, filename: str | None = None):
    with path.open("rb") as f:
        return store.save_upload(user_id, kind, f, filename=filename or path.name)


@pytest.mark.parametrize(("fixture", "ext", "content_type"), [
    ("wav_file", ".wav", "audio/wav"),
    ("mp3_file", ".mp3", "audio/mpeg"),
    ("mp3_with_cover", ".mp3", "audio/mpeg"),  # album art does not make it a video
])  # fmt: skip
def test_good_audio_is_stored_under_a_generated_name(
    store: Store, alice, request, fixture, ext, content_type
) -> None:
    source: Path = request.getfixturevalue(fixture)
    upload = save(store, alice.id, "voice", source, filename="My Voice.bin")

    path = store.upload_path(upload)
    assert path == store.uploads_dir / alice.id / f"{upload.id}{ext}"
    assert path.read_bytes() == source.read_bytes()
    assert (upload.kind, upload.media, upload.content_type) == ("voice", "audio", content_type)
    assert upload.original_name == "My Voice.bin"
    assert upload.size_bytes == source.stat().st_size
    assert upload.duration_s == pytest.approx(1.0, abs=0.1)
    assert store.get_upload(alice.id, upload.id).path == upload.path
    assert files_under(store.uploads_dir) == [path]  # no temporary file left behind


def test_path_traversal_name_never_touches_the_filesystem(
    store: Store, alice, wav_file: Path, tmp_path: Path
) -> None:
    upload = save(store, alice.id, "voice", wav_file, filename="../../../etc/passwd")

    assert upload.original_name == "passwd"
    path = store.upload_path(upload)
    assert path.parent == store.uploads_dir / alice.id
    assert path.name == f"{upload.id}.wav"
    assert not (tmp_path / "etc").exists()
    assert files_under(store.uploads_dir) == [path]


def test_pictures_are_accepted_as_backgrounds(store: Store, alice, png_file, video_file) -> None:
    image = save(store, alice.id, "background", png_file, filename="x.mp4")
    video = save(store, alice.id, "background", video_file, filename="y.png")
    assert (image.media, image.content_type, image.path[-4:]) == ("image", "image/png", ".png")
    assert (video.media, video.content_type, video.path[-4:]) == ("video", "video/mp4", ".mp4")
    assert video.duration_s == pytest.approx(1.0, abs=0.1)
    assert [u.id for u in store.list_uploads(alice.id, kind="background")] == [video.id, image.id]


@pytest.mark.parametrize(("kind", "fixture", "field", "problem"), [
    ("voice", "text_as_wav", "voiceover", "not a readable"),
    ("voice", "video_file", "voiceover", "is a video"),
    ("voice", "video_with_sound", "voiceover", "is a video"),
    ("voice", "png_file", "voiceover", "is an image"),
    ("voice", "truncated_mp3", "voiceover", "truncated"),
    ("music", "video_file", "music", "is a video"),
    ("background", "wav_file", "background", "has no picture"),
])  # fmt: skip
def test_unusable_files_are_refused_and_leave_nothing(
    store: Store, alice, request, kind, fixture, field, problem
) -> None:
    source: Path = request.getfixturevalue(fixture)
    with pytest.raises(InputError) as err:
        save(store, alice.id, kind, source)
    assert err.value.field == field
    assert problem in str(err.value)
    assert source.name in str(err.value)
    assert files_under(store.uploads_dir) == []
    assert store.list_uploads(alice.id) == []


def test_random_bytes_and_empty_files_are_refused(store: Store, alice) -> None:
    noise = bytes(range(256)) * 64
    with pytest.raises(InputError, match="not a readable"):
        store.save_upload(alice.id, "music", io.BytesIO(noise), filename="song.mp3")
    with pytest.raises(InputError, match="empty") as err:
        store.save_upload(alice.id, "voice", io.BytesIO(b""), filename="voice.wav")
    assert err.value.field == "voiceover"
    with pytest.raises(InputError, match="empty"):
        store.save_upload(alice.id, "background", iter([b"", b""]), filename="bg.png")
    assert files_under(store.uploads_dir) == []


def test_oversized_upload_is_abandoned_while_streaming(
    store_settings: Settings, wav_file: Path
) -> None:
    settings = store_settings.model_copy(update={"max_upload_mb": 0.01})  # 10 KiB
    with Store(settings) as store:
        user, _ = store.create_user("Alice")
        with pytest.raises(InputError, match=r"larger than the 0\.01 MB") as err:
            save(store, user.id, "voice", wav_file)
        assert err.value.field == "voiceover"

        pulled = 0

        def endless():
            nonlocal pulled
            while True:
                pulled += 1
                yield b"\0" * 4096

        with pytest.raises(InputError, match="larger than"):
            store.save_upload(user.id, "voice", endless(), filename="huge.wav", field="voice")
        assert pulled <= 4  # stopped at the first chunk over the limit
        assert files_under(store.uploads_dir) == []


def test_async_sources_stream_the_same_way(store: Store, alice, wav_file: Path) -> None:
    data = wav_file.read_bytes()

    async def chunks():
        for i in range(0, len(data), 7000):
            yield data[i : i + 7000]

    class FakeUploadFile:  # the shape of FastAPI's UploadFile
        def __init__(self) -> None:
            self._buffer = io.BytesIO(data)

        async def read(self, size: int = -1) -> bytes:
            return self._buffer.read(size)

    first = asyncio.run(store.save_upload_async(alice.id, "music", chunks(), filename="a.wav"))
    second = asyncio.run(
        store.save_upload_async(alice.id, "music", FakeUploadFile(), filename="b.wav")
    )
    assert store.upload_path(first).read_bytes() == data
    assert store.upload_path(second).read_bytes() == data
    with pytest.raises(InputError, match="not a readable"):
        asyncio.run(store.save_upload_async(alice.id, "voice", chunks_of(b"hello" * 100)))
    assert len(files_under(store.uploads_dir)) == 2


async def chunks_of(data: bytes):
    yield data


def test_uploads_are_private_and_deletable(store: Store, alice, bob, wav_file: Path) -> None:
    upload = save(store, alice.id, "music", wav_file)
    assert store.get_upload(bob.id, upload.id) is None
    assert store.list_uploads(bob.id) == []
    assert store.delete_upload(bob.id, upload.id) is False
    assert store.upload_path(upload).exists()

    details = store.set_upload_details(alice.id, upload.id, {"bpm": 120.0})
    assert details.details == {"bpm": 120.0}
    assert store.set_upload_details(bob.id, upload.id, {"bpm": 1}) is None

    assert store.delete_upload(alice.id, upload.id) is True
    assert not store.upload_path(upload).exists()
    assert store.get_upload(alice.id, upload.id) is None


def test_unknown_upload_kind_is_an_input_error(store: Store, alice, wav_file: Path) -> None:
    with pytest.raises(InputError) as err:
        save(store, alice.id, "avatar", wav_file)
    assert err.value.field == "kind"


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\evil.wav", "evil.wav"),
    ("/abs/path/voice.mp3", "voice.mp3"),
    ("song\u202egpj.exe", "songgpj.exe"),  # bidi override dropped
    ("a\x00b\nc.wav", "abc.wav"),
    ("..", "upload"),
    ("", "upload"),
    (None, "upload"),
    ("  spaced   out .wav ", "spaced out .wav"),
    ("שלום.wav", "שלום.wav"),
])  # fmt: skip
def test_display_names_are_sanitised(raw, shown) -> None:
    assert display_name(raw) == shown


def test_long_display_names_keep_their_extension() -> None:
    name = display_name("x" * 500 + ".wav")
    assert len(name) == 120 and name.endswith(".wav")


def test_video_cut_short_is_refused(store: Store, alice, media: Path) -> None:
    whole = media / "faststart.mp4"
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=160x120:r=25:d=2",
         "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart", str(whole)]
    )  # fmt: skip
    data = whole.read_bytes()
    with pytest.raises(InputError, match="truncated") as err:
        store.save_upload(alice.id, "background", io.BytesIO(data[: len(data) // 2]))
    assert err.value.field == "background"
