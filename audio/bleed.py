"""Loudspeaker bleed: take the customer's own voice back out of the microphone signal.

At a kiosk the customer is played through a loudspeaker next to the microphone, so while (and
just after) the customer speaks, the microphone hears them too. Left in, that voice would be
judged as the trainee's: its pitch, its pace, and "interrupting" while the customer talks.
The kiosk knows exactly what it played, so this is acoustic echo cancellation with a known
reference:

1. coarse delay: where the reference best lines up with the microphone (GCC-PHAT);
2. the room's echo path, per frequency, by least squares over the frames where the reference
   plays (an STFT-domain Wiener estimate), re-estimated without the frames where the residual
   shows someone else talking over it (double talk); the predicted echo is subtracted;
3. residual gating: frames where what is left is no louder than the expected echo leftover are
   treated as customer, not trainee, and silenced.

A batch estimate rather than an adaptive (NLMS) filter: the kiosk has the whole played line and
the whole capture, and an NLMS filter tried first (partitioned, frequency domain) converged too
slowly on stop-start speech to remove anything in a 5 s line.

The browser path uses the browser's own echo cancellation (getUserMedia ``echoCancellation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audio.clip import Clip

FRAME = 4096
"""STFT frame, 256 ms at 16 kHz: well beyond a shop's reverberation, so the echo path is
(close to) a product per frequency bin."""
HOP = FRAME // 4
GATE_BLOCK = 256
"""16 ms: the residual gate's frame."""
MAX_DELAY_S = 0.5
"""Longest loudspeaker-to-microphone delay searched for (sound-card buffers included)."""
DOUBLE_TALK_RATIO = 0.5
"""A frame whose residual power exceeds half its predicted echo power has another voice in it:
left out of the echo-path estimate."""
GATE_MARGIN_DB = 6.0
"""The residual must exceed the expected echo leftover by this much to count as trainee."""
LEFTOVER_DB = -15.0
"""Echo left after subtraction, relative to the echo, that the gate expects at worst."""
TAIL_S = 0.3
"""How long after the reference ends its reverberation is still treated as possible bleed."""


@dataclass(frozen=True, eq=False)
class BleedResult:
    clip: Clip
    """The microphone signal with the customer's voice removed (trainee and room noise remain)."""
    delay_s: float
    """Estimated loudspeaker-to-microphone delay."""
    echo_level_db: float
    """Level of the customer's voice as the microphone heard it, dBFS (NaN if none)."""
    erle_db: float
    """Echo return loss enhancement on the frames with bleed only (before gating), dB."""
    gated_s: float
    """Seconds silenced by the residual gate."""


def estimate_delay(mic: np.ndarray, ref: np.ndarray, rate_hz: int, max_delay_s: float = MAX_DELAY_S) -> int:
    """Samples by which ``mic`` lags ``ref``, by GCC-PHAT (robust to the room's colouring)."""
    n = min(len(mic), len(ref) + int(max_delay_s * rate_hz))
    if n < FRAME or not np.any(ref):
        return 0
    size = 1 << int(np.ceil(np.log2(2 * n)))
    cross = np.fft.rfft(mic[:n], size) * np.conj(np.fft.rfft(ref[:n], size))
    corr = np.fft.irfft(cross / np.maximum(np.abs(cross), 1e-12), size)
    return int(np.argmax(corr[: int(max_delay_s * rate_hz) + 1]))


_WINDOW = np.sqrt(np.hanning(FRAME + 1)[:FRAME])  # periodic sqrt-Hann: WOLA reconstructs at hop N/4


def _stft(x: np.ndarray) -> np.ndarray:
    n = 1 + max(0, int(np.ceil((len(x) - FRAME) / HOP)))
    x = np.pad(x, (0, (n - 1) * HOP + FRAME - len(x)))
    idx = np.arange(FRAME)[None, :] + HOP * np.arange(n)[:, None]
    return np.fft.rfft(x[idx] * _WINDOW, axis=1)


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    frames = np.fft.irfft(spec, FRAME, axis=1) * _WINDOW
    out = np.zeros((len(spec) - 1) * HOP + FRAME)
    for i, frame in enumerate(frames):
        out[i * HOP : i * HOP + FRAME] += frame
    return out[:length] / 2.0  # sqrt-Hann squared sums to 2 at 75 % overlap


def _db(power: float) -> float:
    return float(10.0 * np.log10(max(power, 1e-12)))


def remove_bleed(mic: Clip, played: Clip, played_at_s: float = 0.0) -> BleedResult:
    """Remove ``played`` (started ``played_at_s`` into ``mic``) from the microphone signal."""
    rate = mic.sample_rate_hz
    d = mic.samples.astype(np.float64)
    x = np.zeros(len(d))
    start = int(round(played_at_s * rate))
    if start < len(x):
        seg = played.resampled(rate).samples[: len(x) - start]
        x[start : start + len(seg)] = seg
    if not np.any(x):
        return BleedResult(mic, 0.0, float("nan"), 0.0, 0.0)
    delay = estimate_delay(d, x, rate)
    x = np.concatenate([np.zeros(delay), x])[: len(d)]
    X, D = _stft(x), _stft(d)
    ref_power = np.mean(np.abs(X) ** 2, axis=1)
    use = ref_power > 1e-4 * ref_power.max()
    for _ in range(3):
        H = np.sum(D[use] * np.conj(X[use]), axis=0) / (np.sum(np.abs(X[use]) ** 2, axis=0) + 1e-9)
        Y = X * H
        residual = np.mean(np.abs(D - Y) ** 2, axis=1)
        echo = np.mean(np.abs(Y) ** 2, axis=1)
        clean = (ref_power > 1e-4 * ref_power.max()) & (residual < DOUBLE_TALK_RATIO * echo)
        if clean.sum() < 4 or np.array_equal(clean, use):
            break
        use = clean
    y = _istft(Y, len(d))
    e = d - y
    gated, echo_power, residual_power = _gate(e, y, x, rate)
    bleed_only = echo_power > 0
    bleed_only &= residual_power < echo_power  # leave double talk out of the ERLE figure
    erle = (
        _db(float(np.sum(echo_power[bleed_only]))) - _db(float(np.sum(residual_power[bleed_only])))
        if bleed_only.any()
        else 0.0
    )
    heard = echo_power[echo_power > 0]
    return BleedResult(
        Clip(gated.astype(np.float32), rate),
        delay / rate,
        _db(float(np.mean(heard))) if heard.size else float("nan"),
        round(erle, 1),
        float(np.sum(gated == 0.0) / rate),
    )


def _gate(e: np.ndarray, y: np.ndarray, x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Silence blocks where the residual is only echo leftover. Returns the gated residual and,
    per block, the predicted echo and residual powers (echo power 0 where nothing played)."""
    n = len(x) // GATE_BLOCK

    def blocks(s: np.ndarray) -> np.ndarray:
        return s[: n * GATE_BLOCK].reshape(n, GATE_BLOCK)

    active = np.any(blocks(x) != 0, axis=1)
    near = active.copy()
    tail = int(TAIL_S * rate / GATE_BLOCK)
    for i in np.flatnonzero(active):
        near[i : i + tail + 1] = True
    echo = np.mean(blocks(y) ** 2, axis=1)
    res = np.mean(blocks(e) ** 2, axis=1)
    leftover = echo * 10 ** ((LEFTOVER_DB + GATE_MARGIN_DB) / 10)
    silence = near & (res < leftover)
    out = e.copy()
    out[: n * GATE_BLOCK].reshape(n, GATE_BLOCK)[silence] = 0.0
    return out, np.where(active, echo, 0.0), np.where(active, res, 0.0)
