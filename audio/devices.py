"""Sound devices through sounddevice (PortAudio): list them, record from one, play to one.

PortAudio errors are turned into ``DeviceError`` with one sentence a trainee can act on. Tests
run this very code against ALSA's ``file`` plugin (tests/conftest.py), never a mock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from audio.clip import TARGET_RATE_HZ, Clip
from audio.source import CHUNK_SAMPLES, AudioChunk

log = logging.getLogger(__name__)


class DeviceError(Exception):
    """No usable sound device, or one that failed. One sentence for the user."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate_hz: float
    is_default_input: bool
    is_default_output: bool


def _sd() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 missing
        raise DeviceError("the PortAudio library is missing (install the Debian package libportaudio2)") from exc
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    sd = _sd()
    default_in, default_out = sd.default.device
    apis = sd.query_hostapis()
    return [
        DeviceInfo(
            i,
            d["name"],
            apis[d["hostapi"]]["name"],
            d["max_input_channels"],
            d["max_output_channels"],
            d["default_samplerate"],
            i == default_in,
            i == default_out,
        )
        for i, d in enumerate(sd.query_devices())
    ]


def require(kind: str, device: int | str | None = None) -> int | str | None:
    """Check that an input or output device exists (before anything slow starts)."""
    devices = list_devices()
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    usable = [d for d in devices if getattr(d, channels) > 0]
    if not usable:
        what = "microphone" if kind == "input" else "speaker or headset"
        raise DeviceError(f"no {what} found: plug one in, or check `kiosk devices`")
    if device is None:
        return None
    if isinstance(device, int) and not any(d.index == device for d in usable):
        raise DeviceError(f"audio device {device} has no {kind}: see `kiosk devices`")
    return device


class Microphone:
    """A live 16 kHz mono input stream that yields ``AudioChunk``s.

    int16 is requested from PortAudio because ALSA's file plugin (and many USB headsets) deliver
    S16_LE; float conversion happens here.
    """

    def __init__(
        self, device: int | str | None = None, sample_rate_hz: int = TARGET_RATE_HZ, chunk_samples: int = CHUNK_SAMPLES
    ) -> None:
        self.device = require("input", device)
        self.sample_rate_hz = sample_rate_hz
        self.chunk_samples = chunk_samples
        self._stream = None

    def __enter__(self) -> Microphone:
        sd = _sd()
        try:
            self._stream = sd.InputStream(
                samplerate=self.sample_rate_hz,
                channels=1,
                dtype="int16",
                blocksize=self.chunk_samples,
                device=self.device,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise DeviceError(f"the microphone could not be opened ({exc})") from exc
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stream is not None:
            try:
                self._stream.close(ignore_errors=True)
            finally:
                self._stream = None

    def chunks(self) -> Iterator[AudioChunk]:
        sd = _sd()
        n = 0
        while self._stream is not None:
            try:
                data, overflowed = self._stream.read(self.chunk_samples)
            except sd.PortAudioError as exc:
                raise DeviceError("the microphone stopped delivering sound (unplugged?)") from exc
            if overflowed:
                log.warning("input overflow: some microphone samples were lost")
            samples = data[:, 0].astype(np.float32) / 32768.0
            yield AudioChunk(samples, self.sample_rate_hz, n / self.sample_rate_hz)
            n += len(samples)


@contextmanager
def start_playback(clip: Clip, device: int | str | None = None) -> Iterator[None]:
    """Play a clip in the background while the body runs (the microphone listening, say), then
    wait until it has finished."""
    sd = _sd()
    device = require("output", device)
    pcm = np.frombuffer(clip.to_pcm16(), dtype="<i2")
    try:
        sd.play(pcm, clip.sample_rate_hz, device=device, blocking=False)
        yield
        sd.wait()
    except (sd.PortAudioError, ValueError) as exc:
        raise DeviceError(f"the speaker could not play the customer's voice ({exc})") from exc


def play(clip: Clip, device: int | str | None = None) -> None:
    """Play a clip and wait until it has finished."""
    with start_playback(clip, device):
        pass
