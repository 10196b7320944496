// Capturing an answer: in the browser (getUserMedia + MediaRecorder, uploaded when done) or with
// the kiosk's own microphone (the server records; the page only shows the level and can stop it).
// Either way the server trims and judges the answer with the same VAD as the terminal kiosk.

const TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
// Auto-stop: after at least 0.4 s of voice, 1.5 s of quiet ends the answer (the server then only
// trims the upload, never cuts it at a pause). With push-to-talk only the trainee's tap (or the
// 90 s cap) ends it.
const SPEECH_MS = 400, QUIET_MS = 1500, NO_SPEECH_MS = 10000, MAX_MS = 90000, TICK_MS = 50;

export function levelToPercent(db) {
  return Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
}

export async function api(url, options = {}) {
  const headers = { "X-Kiosk": "1", ...(options.headers || {}) };
  const response = await fetch(url, { ...options, headers });
  if (!response.ok) {
    let message = `Something went wrong (${response.status}).`;
    try { message = (await response.json()).error || message; } catch { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

class BrowserCapture {
  constructor(onLevel, pushToTalk) { this.onLevel = onLevel; this.pushToTalk = pushToTalk; this.done = null; }

  async record() {
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      throw new Error("This browser cannot record here (the page must be opened on this machine or over HTTPS).");
    }
    let stream;
    try {
      // Automatic gain would flatten the very loudness the kiosk measures against your calm voice;
      // echo cancellation keeps the customer's voice from the loudspeaker out of the answer.
      stream = await navigator.mediaDevices.getUserMedia(
        { audio: { autoGainControl: false, noiseSuppression: false, echoCancellation: true } });
    } catch (e) {
      throw new Error("No microphone could be opened: check the headset and allow the microphone.");
    }
    const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || "";
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
    const pieces = [];
    recorder.ondataavailable = (e) => { if (e.data.size) pieces.push(e.data); };
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const buffer = new Float32Array(analyser.fftSize);
    let floor = -60, voiced = 0, quiet = 0, elapsed = 0;
    const finished = new Promise((resolve) => { recorder.onstop = resolve; });
    this.done = () => { if (recorder.state === "recording") recorder.stop(); };
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buffer);
      let sum = 0;
      for (const x of buffer) sum += x * x;
      const db = 10 * Math.log10(sum / buffer.length + 1e-10);
      this.onLevel(db);
      floor = Math.min(db, floor + 0.05);  // slowly tracks the room's noise floor
      elapsed += TICK_MS;
      if (db > Math.max(floor + 15, -50)) { voiced += TICK_MS; quiet = 0; } else if (voiced) quiet += TICK_MS;
      const ended = !this.pushToTalk && ((voiced >= SPEECH_MS && quiet >= QUIET_MS) || (!voiced && elapsed >= NO_SPEECH_MS));
      if (ended || elapsed >= MAX_MS) this.done();
    }, TICK_MS);
    recorder.start(250);
    await finished;
    clearInterval(timer);
    stream.getTracks().forEach((t) => t.stop());
    context.close();
    this.onLevel(-100);
    return new Blob(pieces, { type: recorder.mimeType || "audio/webm" });
  }

  stop() { if (this.done) this.done(); }
}

// Record one answer and send it to `url`; resolves with the server's JSON.
// mode "server": the kiosk's microphone records; `levelUrl`/`stopUrl` serve the meter and "done".
export class Answerer {
  constructor({ mode, onLevel, onSent = () => {}, headers = {}, pushToTalk = false }) {
    this.mode = mode;
    this.pushToTalk = pushToTalk;
    this.onLevel = onLevel;
    this.onSent = onSent;
    this.headers = headers;
    this.capture = null;
    this.stopUrl = null;
  }

  async send(url, levelUrl, stopUrl) {
    if (this.mode === "server") {
      this.stopUrl = stopUrl;
      const poll = setInterval(async () => {
        try { this.onLevel((await (await fetch(levelUrl)).json()).level_db); } catch { /* next tick */ }
      }, 100);
      try {
        return await (await api(`${url}${url.includes("?") ? "&" : "?"}source=server`, { method: "POST", headers: this.headers })).json();
      } finally {
        clearInterval(poll);
        this.stopUrl = null;
        this.onLevel(-100);
      }
    }
    this.capture = new BrowserCapture(this.onLevel, this.pushToTalk);
    let blob;
    try { blob = await this.capture.record(); } finally { this.capture = null; }
    this.onSent();
    return await (await api(url, { method: "POST", body: blob, headers: { ...this.headers, "Content-Type": blob.type } })).json();
  }

  stop() {
    if (this.capture) this.capture.stop();
    if (this.stopUrl) api(this.stopUrl, { method: "POST", headers: this.headers }).catch(() => {});
  }
}
