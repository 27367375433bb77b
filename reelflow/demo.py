"""The built-in demo reel: a spoken script, gradient background, music, captions and effects."""

from __future__ import annotations

from reelflow.models import ReelSpec, parse_spec

DEMO_SCRIPT = (
    "Want your videos to stand out? Here is the secret. "
    "Every word you say appears on screen at exactly the right moment. "
    "The music drops under your voice, then rises again in the pauses. "
    "And the camera moves with the beat. "
    "Type a script, pick a style, and let the machine do the rest. "
    "One command, twenty seconds, done."
)

DEMO_SPEC: dict = {
    "script": DEMO_SCRIPT,
    "background": {"type": "gradient", "colors": ["#0F2027", "#203A43", "#8E2DE2"]},
    "music": {"preset": "upbeat", "volume": 0.18, "auto_duck": True},
    "captions": {"animation": "highlight", "words_per_caption": 3, "position": "bottom"},
    "effects": {"preset": "dynamic"},
    "quality": "high",
    "platform": "instagram",
}


def demo_spec(**overrides) -> ReelSpec:
    """The demo reel's spec, with optional top-level overrides (e.g. ``quality="low"``)."""
    return parse_spec(DEMO_SPEC | overrides)
