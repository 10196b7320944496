"""Noisy and quieter copies of real speech for the delivery validation (tests and the script).

The noise is speech-shaped: white noise filtered to the long-term average spectrum of *other*
recordings, so it masks the same frequencies a voice does (like a busy shop floor) without
carrying words Whisper could transcribe. The SNR is set against the clean file's active speech
level, the level a P.56 meter would report.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from audio.clip import Clip, load
from analysis import loudness

ESPEAK_DATA = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
NOISE_SOURCES = (
    "libri_2412-153948-0000.wav",
    "libri_1988-24833-0001.wav",
    "jfk.wav",
    "ptdb_F01_sa1.wav",
    "ptdb_M01_sa1.wav",
)


def speech_shaped_noise(speech_dir: Path, length: int, exclude: str, seed: int = 5) -> np.ndarray:
    """Unit-power noise of ``length`` samples with the average spectrum of the other files."""
    n_fft = 1024
    power = np.zeros(n_fft // 2 + 1)
    for name in NOISE_SOURCES:
        if name == exclude:
            continue
        x = load(speech_dir / name).samples.astype(np.float64)
        frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[:: n_fft // 2]
        power += np.mean(np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2, axis=0)
    rng = np.random.default_rng(seed)
    white = np.fft.rfft(rng.standard_normal(length))
    shape = np.sqrt(np.interp(np.linspace(0, 1, white.size), np.linspace(0, 1, power.size), power))
    noise = np.fft.irfft(white * shape, n=length)
    return noise / np.sqrt(np.mean(noise**2))


def babble(speech_dir: Path, length: int, exclude: str, seed: int = 3) -> np.ndarray:
    """Unit-power babble: the other recordings, each at its active level, looped and summed
    from random starting points (four voices, with their own pauses: a busy counter)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(length)
    for name in NOISE_SOURCES:
        if name == exclude:
            continue
        voice = load(speech_dir / name)
        x = voice.samples.astype(np.float64) / 10 ** (loudness.active_level_db(loudness.frame_levels(voice)) / 20)
        x = np.tile(x, length // x.size + 2)
        start = rng.integers(0, x.size - length)
        total += x[start : start + length]
    return total / np.sqrt(np.mean(total**2))


def with_noise(clip: Clip, speech_dir: Path, name: str, snr_db: float, kind: str = "speech-shaped") -> Clip:
    """``clip`` plus speech-shaped noise or babble ``snr_db`` below its active speech level."""
    level_db = loudness.active_level_db(loudness.frame_levels(clip))
    make = speech_shaped_noise if kind == "speech-shaped" else babble
    noise = make(speech_dir, clip.samples.size, exclude=name)
    noise *= 10 ** ((level_db - snr_db) / 20)
    return Clip((clip.samples + noise).astype(np.float32), clip.sample_rate_hz)


def scaled(clip: Clip, gain_db: float) -> Clip:
    return Clip((clip.samples * 10 ** (gain_db / 20)).astype(np.float32), clip.sample_rate_hz)


def espeak_with_effort(folder: Path) -> Path:
    """An espeak-ng data path (links to the system's) with one more variant, "effort", whose
    "tone" equaliser tilts the spectrum up by about 10 dB above 1 kHz: espeak's amplitude is only
    a gain, and shouting also flattens the voice's spectral tilt."""
    root = folder / "espeak-ng-data"
    (root / "voices" / "!v").mkdir(parents=True)
    for entry in ESPEAK_DATA.iterdir():
        if entry.name != "voices":
            (root / entry.name).symlink_to(entry)
    for entry in (ESPEAK_DATA / "voices").iterdir():
        if entry.name != "!v":
            (root / "voices" / entry.name).symlink_to(entry)
    for entry in (ESPEAK_DATA / "voices" / "!v").iterdir():
        (root / "voices" / "!v" / entry.name).symlink_to(entry)
    (root / "voices" / "!v" / "effort").write_text("name effort\ntone 400 60 1200 140 2500 250 4000 250\n")
    return folder


def say(espeak_data: Path, path: Path, text: str, *args: str, variant: str = "") -> Clip:
    """``text`` spoken by espeak-ng (en-us, optional variant such as "+effort") into ``path``."""
    subprocess.run(
        ["espeak-ng", f"--path={espeak_data}", "-v", "en-us" + variant, *args, "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return load(path)
