"""Real-time replay through the real capture path: a headless ALSA microphone fed at 16 kHz pace.

ALSA's ``file`` plugin hands PortAudio whatever its ``infile`` holds as fast as it is read, so a
plain file would replay a 60 s answer in milliseconds and a latency measured on it would mean
nothing. Here ``infile`` is a named pipe and a feeder thread writes one 32 ms block per 32 ms of
wall-clock time, so ``audio.devices.Microphone`` receives the answer exactly as a live headset
would deliver it. ``install()`` must run before anything imports sounddevice (ALSA reads its
configuration when PortAudio initialises).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from audio.clip import Clip

BLOCK_SAMPLES = 512


class PacedAlsaMicrophone:
    """The default ALSA capture device, reading from a pipe this object feeds in real time."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kiosk-bench-alsa-"))
        self.fifo = self.dir / "in.raw"
        os.mkfifo(self.fifo)
        (self.dir / "asoundrc").write_text(
            f'pcm.!default {{ type file; slave.pcm "null"; file "{self.dir / "out.raw"}"; '
            f'infile "{self.fifo}"; format "raw" }}\n'
        )
        self._thread: threading.Thread | None = None
        self.started_at: float | None = None
        """Wall-clock (time.monotonic) moment the first sample became available."""

    def install(self) -> None:
        os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{self.dir / 'asoundrc'}"

    def feed(self, clip: Clip, trailing_silence_s: float = 5.0) -> None:
        """Start feeding ``clip`` (then silence) in real time; call before opening the Microphone."""
        pcm = clip.resampled(16000).concat(Clip.silence(trailing_silence_s)).to_pcm16()
        self.started_at = None
        self._thread = threading.Thread(target=self._write, args=(pcm,), daemon=True)
        self._thread.start()

    def _write(self, pcm: bytes) -> None:
        block = BLOCK_SAMPLES * 2
        try:
            with open(self.fifo, "wb", buffering=0) as f:  # blocks until the capture side opens
                t0 = time.monotonic()
                self.started_at = t0
                for i in range(0, len(pcm), block):
                    delay = t0 + (i + block) / 2 / 16000 - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    f.write(pcm[i : i + block])
        except BrokenPipeError:  # capture stopped at the end of speech: the usual way out
            pass

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=120)
