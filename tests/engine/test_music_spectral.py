"""The numpy spectral pieces of the music analysis agree with librosa (and scipy.signal), the
references they replace, on synthetic signals."""

from __future__ import annotations

import subprocess
import sys

import librosa
import numpy as np
import pytest
from scipy import signal

from reelflow.engine.music import spectral

SR = 22_050


def _music_like(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Decaying tones on a 0.5 s grid over soft noise: onsets, pitch and silence-free frames."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    y = 0.01 * rng.standard_normal(t.size)
    for k, start in enumerate(np.arange(0.1, seconds, 0.5)):
        hz = [110.0, 220.0, 330.0, 440.0][k % 4]
        tail = t[t >= start] - start
        y[t >= start] += 0.5 * np.sin(2 * np.pi * hz * tail) * np.exp(-tail / 0.15)
    return y.astype(np.float32)


def _clicks(bpm: float, seconds: float = 20.0) -> np.ndarray:
    y = np.zeros(round(seconds * SR), dtype=np.float32)
    t = np.arange(round(0.03 * SR)) / SR
    click = (np.sin(2 * np.pi * 1_000 * t) * np.exp(-t / 0.005)).astype(np.float32)
    for at in np.arange(0.2, seconds - 0.05, 60.0 / bpm):
        y[round(at * SR) : round(at * SR) + click.size] += click
    return y


def test_hann_is_scipys_periodic_window():
    for n in (8, 256, 689):
        assert np.allclose(spectral.hann(n), signal.get_window("hann", n, fftbins=True))


@pytest.mark.parametrize(("n_fft", "hop"), [(2048, 512), (1024, 256), (256, 32)])
def test_stft_matches_librosa(n_fft, hop):
    y = _music_like()

    ours = spectral.stft(y, n_fft=n_fft, hop_length=hop)
    theirs = librosa.stft(y, n_fft=n_fft, hop_length=hop)

    assert ours.dtype == np.complex64
    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-5 * np.abs(theirs).max())


@pytest.mark.parametrize(("n_fft", "n_mels"), [(2048, 128), (1024, 128), (256, 40)])
@pytest.mark.filterwarnings("ignore:Empty filters detected")
def test_mel_filters_match_librosa(n_fft, n_mels):
    ours = spectral.mel_filters(sr=SR, n_fft=n_fft, n_mels=n_mels)

    assert ours.dtype == np.float32
    assert np.allclose(ours, librosa.filters.mel(sr=SR, n_fft=n_fft, n_mels=n_mels), atol=1e-7)


def test_chroma_filters_match_librosa():
    ours = spectral.chroma_filters(sr=SR, n_fft=2048)

    assert np.allclose(ours, librosa.filters.chroma(sr=SR, n_fft=2048, tuning=0.0), atol=1e-7)


def test_filtered_power_is_librosas_mel_spectrogram_and_chroma():
    y = _music_like()
    mel = spectral.mel_filters(sr=SR, n_fft=2048)
    chroma = spectral.chroma_filters(sr=SR, n_fft=2048)

    ours_mel, ours_chroma = spectral.filtered_power(y, [mel, chroma], n_fft=2048, hop_length=512)
    power = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
    theirs_mel = librosa.feature.melspectrogram(S=power, sr=SR)
    theirs_chroma = librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0, norm=None)

    assert np.allclose(ours_mel, theirs_mel, rtol=1e-4, atol=1e-6 * theirs_mel.max())
    assert np.allclose(ours_chroma, theirs_chroma, rtol=1e-4, atol=1e-6 * theirs_chroma.max())


def test_power_to_db_matches_librosa_per_spectrogram_of_a_batch():
    rng = np.random.default_rng(1)
    power = (rng.random((3, 20, 50)) ** 8 * np.array([1.0, 1e-3, 1e-14])[:, None, None]).astype(
        np.float32
    )

    ours = spectral.power_to_db(power)

    for i in range(3):
        assert np.allclose(ours[i], librosa.power_to_db(power[i]), atol=1e-4)


@pytest.mark.parametrize(("n_fft", "hop", "n_mels"), [(1024, 256, 128), (256, 32, 40)])
@pytest.mark.filterwarnings("ignore:Empty filters detected")
def test_onset_strength_matches_librosa(n_fft, hop, n_mels):
    y = _music_like()

    ours = spectral.onset_strength(y, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels)
    theirs = librosa.onset.onset_strength(y=y, sr=SR, n_fft=n_fft, hop_length=hop, n_mels=n_mels)

    assert ours.shape == theirs.shape
    assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert np.argmax(ours) == np.argmax(theirs)


@pytest.mark.filterwarnings("ignore:Empty filters detected")
def test_batched_onset_strength_equals_one_excerpt_at_a_time():
    y = _music_like(seed=2)
    excerpts = np.stack([y[i * 3000 : i * 3000 + 4410] for i in range(8)])

    batched = spectral.onset_strength(excerpts, sr=SR, n_fft=256, hop_length=32, n_mels=40)

    for excerpt, ours in zip(excerpts, batched, strict=True):
        theirs = librosa.onset.onset_strength(y=excerpt, sr=SR, n_fft=256, hop_length=32, n_mels=40)
        assert np.allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_onset_strength_of_a_db_spectrogram_matches_librosa():
    db = librosa.power_to_db(librosa.feature.melspectrogram(y=_music_like(), sr=SR)[:12])

    ours = spectral.onset_strength_db(db, n_fft=2048, hop_length=512)

    assert np.allclose(ours, librosa.onset.onset_strength(S=db, sr=SR, hop_length=512), atol=1e-5)


@pytest.mark.parametrize("bpm", [72.0, 90.0, 117.0, 128.0, 140.0, 175.0])
def test_tempo_matches_librosa(bpm):
    env = librosa.onset.onset_strength(y=_clicks(bpm), sr=SR, hop_length=256, n_fft=1024)

    ours = spectral.tempo(env, sr=SR, hop_length=256)

    assert ours == pytest.approx(
        librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=256)[0]
    )


def test_tempo_of_noise_matches_librosa():
    env = np.random.default_rng(3).random(900).astype(np.float32)

    ours = spectral.tempo(env, sr=SR, hop_length=256)

    assert ours == pytest.approx(
        librosa.feature.tempo(onset_envelope=env, sr=SR, hop_length=256)[0]
    )


def test_rms_matches_librosa():
    y = _music_like()

    ours = spectral.rms(y, frame_length=1024, hop_length=512)

    theirs = librosa.feature.rms(y=y, frame_length=1024, hop_length=512)[0]
    assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kernel_size", [3, 5, 87])
def test_median_filter_matches_scipy_medfilt(kernel_size):
    x = np.random.default_rng(4).random(500).astype(np.float32)

    assert np.array_equal(spectral.median_filter(x, kernel_size), signal.medfilt(x, kernel_size))


@pytest.mark.parametrize("seed", range(6))
def test_find_peaks_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    # Quantised, so there are flat tops and ties between peaks.
    x = np.round(np.convolve(rng.random(800), np.ones(9) / 9, "same") * 20) / 20 - 0.4

    for height, distance, prominence in [(0.05, 1, 0.0), (0.1, 43, 0.08), (-1.0, 7.5, 0.02)]:
        ours = spectral.find_peaks(x, height=height, distance=distance, prominence=prominence)
        theirs, _ = signal.find_peaks(x, height=height, distance=distance, prominence=prominence)
        assert ours.tolist() == theirs.tolist()


def test_find_peaks_of_flat_or_short_input_is_empty():
    for x in (np.zeros(10), np.ones(2), np.array([0.0, 1.0, 1.0])):
        assert spectral.find_peaks(x, height=0.0, distance=1, prominence=0.0).size == 0


def test_sync_matches_librosa_median():
    data = np.random.default_rng(5).random((12, 200)).astype(np.float32)
    for frames in ([10, 30, 31, 90, 150], [0, 50, 100, 250], [5]):
        ours = spectral.sync(data, np.array(frames), aggregate=np.median)
        theirs = librosa.util.sync(data, frames, aggregate=np.median)
        assert np.allclose(ours, theirs)


def test_the_analysis_imports_neither_librosa_nor_scipy():
    code = (
        "import sys, numpy as np\n"
        "from reelflow.engine.music.analysis import analyze_music\n"
        "t = np.arange(3 * 48_000) / 48_000\n"
        "analyze_music(np.sin(2 * np.pi * 220 * t) * (t % 0.5 < 0.1), 48_000)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'librosa', 'scipy', 'numba'}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
