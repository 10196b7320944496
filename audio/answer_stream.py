"""One answer heard live: capture, endpointing and streaming transcription as one policy.

The terminal (a microphone's chunks), the kiosk's own microphone and the browser (frames over a
WebSocket) all feed an ``AnswerStream`` the same way, so an answer is endpointed and transcribed
identically whichever door it came in by. The shape is whisper_streaming's online processor:
``insert_audio_chunk`` (capture thread: VAD, endpointing, decodes queued), ``process_iter`` (the
caller's decode worker: one queued decode), ``finish`` (the transcript). It starts no thread, so
a test can feed audio, step and finish in one thread and get the same answer every time.

Endpointing adapts to what was said (``StreamingTranscriber.end_silence_s``, audio.turn_end): at
each pause the audio up to it is decoded at once; if those words end a sentence and the voice
fell, 0.55 s of silence ends the answer; after "and", "um", a comma or a level voice it takes
1.5 s, and while the decode is still running 1.2 s. docs/performance.md has the measured
cut-offs and latencies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from audio.asr import Transcript
from audio.capture import AnswerCapture, Recording, check_rate, level_dbfs
from audio.devices import DeviceError
from audio.source import AudioChunk
from audio.streaming import StreamingTranscriber
from audio.vad import EndpointConfig, SpeechDetector, VadEvent


class AnswerStream:
    """Feed one answer's audio, step the decoder, finish. Not thread-safe by itself: one
    thread inserts audio, one (the same or a decode worker) calls ``process_iter``."""

    def __init__(
        self,
        decoder: StreamingTranscriber,
        config: EndpointConfig = EndpointConfig(),
        detector: SpeechDetector | None = None,
        adaptive: bool = True,
    ) -> None:
        self.decoder = decoder
        self.capture = AnswerCapture(config, detector, decoder.end_silence_s if adaptive else None)

    @property
    def done(self) -> bool:
        """The answer has ended (silence after speech, no speech, the cap, a lost source)."""
        return self.capture.done

    def insert_audio_chunk(self, samples: np.ndarray) -> list[VadEvent]:
        """16 kHz mono float samples, any length, as they are captured. Returns the VAD events."""
        return self.capture.push(samples, self.decoder.on_event)

    def process_iter(self, wait_s: float = 0.0) -> bool:
        """Run one queued decode (waiting up to ``wait_s`` for one); False if none ran."""
        return self.decoder.process_iter(wait_s)

    def source_lost(self, error: str) -> None:
        """The microphone or the browser's connection failed: what was heard is the answer."""
        self.capture.device_lost(error)

    def recording(self) -> Recording:
        """The answer as captured so far (the whole answer once ``done`` or the source ended)."""
        return self.capture.recording()

    def finish(self, recording: Recording | None = None) -> Transcript:
        """The answer's transcript on the timeline of ``recording.speech_clip()``; runs whatever
        decodes are still queued and closes the stream."""
        return self.decoder.finish(recording or self.recording())

    def close(self) -> None:
        """Abandon the answer: queued decodes are dropped and the caller's worker released."""
        self.decoder.close()


def record_streaming(
    chunks: Iterable[AudioChunk], stream: AnswerStream, on_level: Callable[[float], None] | None = None
) -> Recording:
    """Feed ``chunks`` to ``stream`` until the answer ends (``audio.capture.record_answer``'s
    loop for a streamed answer); a failing device ends it with what was heard."""
    try:
        for chunk in chunks:
            check_rate(chunk)
            if on_level is not None:
                on_level(level_dbfs(chunk.samples))
            stream.insert_audio_chunk(chunk.samples)
            if stream.done:
                break
    except DeviceError as exc:
        stream.source_lost(str(exc))
    return stream.recording()
