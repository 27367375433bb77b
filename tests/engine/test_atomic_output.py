"""Outputs appear whole, with the process's usual permissions, or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from reelflow.engine import ffmpeg
from reelflow.engine.errors import MediaError
from reelflow.tasks.picture import publish


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_encoded_file_gets_the_umask_permissions(tmp_path: Path, umask_022) -> None:
    out = tmp_path / "clip.mp4"
    with ffmpeg.atomic_output(out) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4"
        ffmpeg.run(["-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=0.2",
                    "-c:v", "libx264", os.fspath(tmp)])  # fmt: skip
    assert ffmpeg.probe(out).video.width == 64
    assert _mode(out) == 0o644  # mkstemp's 0600 used to carry over: other readers were locked out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_a_failed_encode_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    out_before = tmp_path / "kept.mp4"
    out_before.write_bytes(b"previous")
    with pytest.raises(MediaError), ffmpeg.atomic_output(out) as tmp:
        ffmpeg.run(["-loglevel", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=0.2",
                    "-c:v", "no-such-encoder", os.fspath(tmp)])  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.mp4"]


def test_a_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "mix.wav"
    out.write_bytes(b"the finished one")
    with pytest.raises(MediaError, match="no output"), ffmpeg.atomic_output(out):
        pass
    assert out.read_bytes() == b"the finished one"  # the old output stays until a new one is whole
    assert [p.name for p in tmp_path.iterdir()] == ["mix.wav"]


def test_publish_links_the_render_with_its_permissions(tmp_path: Path, umask_022) -> None:
    from reelflow.engine.render.graph import RenderResult

    cache = tmp_path / "cache"
    video, poster = cache / "reel.mp4", cache / "reel.jpg"
    for path, data in ((video, b"video"), (poster, b"poster")):
        with ffmpeg.atomic_output(path) as tmp:
            tmp.write_bytes(data)
    result = RenderResult(video, poster, "libx264", 1.0, 5, None, 1)
    published = publish.fn(result=result, target=tmp_path / "out" / "task" / "reel.mp4")
    target = Path(published["video"])
    assert target.read_bytes() == b"video" and Path(published["poster"]).read_bytes() == b"poster"
    assert _mode(target) == 0o644 and video.read_bytes() == b"video"
    assert sorted(p.name for p in target.parent.iterdir()) == ["reel.jpg", "reel.mp4"]


def test_publish_without_replace_keeps_a_finished_output(tmp_path: Path) -> None:
    # Two attempts of one run (a worker cut off, then back): the first to publish keeps its
    # place, the late one neither overwrites it nor leaves a temporary file behind.
    from reelflow.engine.render.graph import RenderResult

    def render(name: str, data: bytes) -> RenderResult:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "reel.mp4").write_bytes(data)
        (folder / "reel.jpg").write_bytes(data + b"-poster")
        return RenderResult(folder / "reel.mp4", folder / "reel.jpg", "libx264", 1.0, 5, None, 1)

    target = tmp_path / "out" / "task" / "reel.mp4"
    first = publish.fn(result=render("c", b"first"), target=target, replace=False)
    again = publish.fn(result=render("b", b"late"), target=target, replace=False)
    assert first == again
    assert target.read_bytes() == b"first" and target.with_suffix(".jpg").read_bytes() == (
        b"first-poster"
    )
    assert sorted(p.name for p in target.parent.iterdir()) == ["reel.jpg", "reel.mp4"]
    publish.fn(result=render("user", b"mine"), target=target)  # the CLI's -o: replaced
    assert target.read_bytes() == b"mine"
