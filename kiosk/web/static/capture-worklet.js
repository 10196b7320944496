// The microphone's samples as they are captured, for streaming to the kiosk: 32 ms frames of
// mono int16 at the audio context's own rate (the server resamples to 16 kHz), posted to the page
// which sends them over its WebSocket. int16 halves the bytes of float32 and loses nothing a
// microphone's own noise floor does not already hide.
class KioskCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate * 0.032);
    this.frame = new Int16Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i += 1) {
      const x = Math.max(-1, Math.min(1, channel[i]));
      this.frame[this.filled] = x < 0 ? x * 32768 : x * 32767;
      this.filled += 1;
      if (this.filled === this.size) {
        this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
        this.frame = new Int16Array(this.size);
        this.filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("kiosk-capture", KioskCapture);
