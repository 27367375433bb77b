"""Video encoder choice and settings: NVENC where a probe encode works, libx264 otherwise."""

from __future__ import annotations

from dataclasses import dataclass

from reelflow.engine.errors import MediaError
from reelflow.engine.ffmpeg import encoder_works
from reelflow.presets import EncoderName, QualityPreset

NVENC = "h264_nvenc"
X264 = "libx264"


@dataclass(frozen=True)
class EncoderChoice:
    """The H.264 encoder a render uses and why it was picked."""

    codec: str
    reason: str


def choose_encoder(requested: EncoderName, *, allow_gpu: bool) -> EncoderChoice:
    """Resolve ``auto`` to NVENC when allowed and a probe encode succeeds, else libx264."""
    if requested == "libx264":
        return EncoderChoice(X264, "requested")
    if requested == "nvenc":
        if not encoder_works(NVENC):
            raise MediaError("encoder nvenc was requested but NVENC does not work on this machine")
        return EncoderChoice(NVENC, "requested")
    if not allow_gpu:
        return EncoderChoice(X264, "GPU acceleration disabled")
    if encoder_works(NVENC):
        return EncoderChoice(NVENC, "NVENC probe encode succeeded")
    return EncoderChoice(X264, "no working NVENC")


def video_codec_args(choice: EncoderChoice, quality: QualityPreset, video_kbps: int | None) -> dict:
    """ffmpeg-python output arguments for H.264 High, yuv420p, BT.709, capped at `video_kbps`
    (VBV) when given."""
    cap = {"maxrate": f"{video_kbps}k", "bufsize": f"{video_kbps * 2}k"} if video_kbps else {}
    common = cap | {
        "vcodec": choice.codec,
        "profile:v": "high",
        "pix_fmt": "yuv420p",
        "g": quality.fps * 2,
        "color_primaries": "bt709",
        "color_trc": "bt709",
        "colorspace": "bt709",
        "color_range": "tv",
    }
    if choice.codec == NVENC:
        return common | {
            "preset": quality.nvenc_preset,
            "rc": "vbr",
            "cq": quality.nvenc_cq,
            "b:v": "0",
        }
    return common | {"preset": quality.x264_preset, "crf": quality.crf}
