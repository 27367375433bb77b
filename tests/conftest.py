"""Shared fixtures: isolated settings and tiny media made by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelflow.settings import Settings
from tests import mediatools


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose every file lives under this test's temporary folder."""
    return Settings(data_dir=tmp_path / "data", enable_gpu_acceleration=False)


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def bg_video(media: Path) -> Path:
    return mediatools.lavfi_video(media / "bg.mp4", "testsrc2", seconds=2.0)


@pytest.fixture(scope="session")
def bg_image(media: Path) -> Path:
    return mediatools.detailed_image(media / "still.png")
