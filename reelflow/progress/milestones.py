"""Where each stage of a reel leaves the progress bar: the seed project's milestones."""

from __future__ import annotations

MILESTONES: dict[str, float] = {
    "voice": 10,
    "words": 20,
    "voice_analysis": 30,
    "captions": 40,
    "background": 50,
    "music": 60,
    "effects": 70,
    "render": 90,
    "stored": 100,
}
