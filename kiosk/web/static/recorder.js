// Capturing an answer: streamed from the browser (AudioWorklet frames over a WebSocket, the server
// endpoints and transcribes them as they arrive), recorded in the browser and uploaded when done
// (MediaRecorder: calibration, workshop rounds, browsers without AudioWorklet or WebSocket), or with
// the kiosk's own microphone (the server records; the page only shows the level and can stop it).
// Every way, the server trims and judges the answer with the same VAD as the terminal kiosk.

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
    if (!window.MediaRecorder) {
      throw new Error("This browser cannot record here (the page must be opened on this machine or over HTTPS).");
    }
    const stream = await openMicrophone();
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

// Automatic gain would flatten the very loudness the kiosk measures against your calm voice;
// echo cancellation keeps the customer's voice from the loudspeaker out of the answer.
const MIC = { audio: { autoGainControl: false, noiseSuppression: false, echoCancellation: true } };

async function openMicrophone() {
  if (!navigator.mediaDevices) {
    throw new Error("This browser cannot record here (the page must be opened on this machine or over HTTPS).");
  }
  try {
    return await navigator.mediaDevices.getUserMedia(MIC);
  } catch (e) {
    throw new Error("No microphone could be opened: check the headset and allow the microphone.");
  }
}

function streamingSupported() {
  return Boolean(window.WebSocket && window.AudioWorkletNode && window.AudioContext && navigator.mediaDevices);
}

// The socket is open, or null when the server cannot stream (then the answer is uploaded instead).
function openSocket(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => resolve(ws);
    ws.onerror = () => resolve(null);
  });
}

// The answer streamed as it is spoken: the server decides when it has ended (the same adaptive
// endpointing as the terminal), tells the page to stop, and sends the judged turn. Timings go out
// as a "kiosk:answer-timing" event (bench/web_latency.py reads them; nothing else does).
class StreamingCapture {
  constructor(ws, onLevel, onSent) {
    this.ws = ws; this.onLevel = onLevel; this.onSent = onSent; this.stopped = false;
  }

  async record() {
    const ws = this.ws;
    let stream;
    try { stream = await openMicrophone(); } catch (e) { ws.close(); throw e; }
    const context = new AudioContext();
    const release = () => {
      if (this.stopped) return;
      this.stopped = true;
      stream.getTracks().forEach((t) => t.stop());
      context.close();
      this.onLevel(-100);
    };
    const timing = { captureStartedAt: null };
    const result = new Promise((resolve, reject) => {
      ws.onmessage = (e) => {
        const message = JSON.parse(e.data);
        if (message.type === "ended") {
          timing.endedAt = performance.now();
          release();
          this.onSent();
        } else if (message.type === "turn") {
          timing.turnAt = performance.now();
          Object.assign(timing, message.answer || {});
          window.dispatchEvent(new CustomEvent("kiosk:answer-timing", { detail: timing }));
          resolve(message);
        } else if (message.type === "error") {
          const error = new Error(message.error);
          error.status = message.status;
          reject(error);
        }
      };
      ws.onclose = () => reject(new Error("The connection to the kiosk was lost: please answer again."));
    });
    try {
      await context.audioWorklet.addModule("/static/capture-worklet.js");
      const node = new AudioWorkletNode(context, "kiosk-capture");
      const mute = context.createGain();
      mute.gain.value = 0;  // the graph must reach the output to run; nothing is heard
      context.createMediaStreamSource(stream).connect(node).connect(mute).connect(context.destination);
      ws.send(JSON.stringify({ type: "start", sample_rate_hz: context.sampleRate }));
      node.port.onmessage = (e) => {
        if (timing.captureStartedAt === null) {
          timing.captureStartedAt = performance.now() - (e.data.byteLength / 2 / context.sampleRate) * 1000;
        }
        if (ws.readyState === WebSocket.OPEN && !this.stopped) ws.send(e.data);
        const frame = new Int16Array(e.data);
        let sum = 0;
        for (const x of frame) sum += (x / 32768) * (x / 32768);
        this.onLevel(10 * Math.log10(sum / frame.length + 1e-10));
      };
      return await result;
    } finally {
      release();
      if (ws.readyState === WebSocket.OPEN) ws.close();
    }
  }

  stop() { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "stop" })); }
}

// Only the conversation's answers stream: calibration and workshop rounds are short recordings
// judged whole, and keep the upload.
function streamUrl(url) {
  if (!/\/answer$/.test(url) || !streamingSupported()) return null;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}${url}/stream`;
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
    const live = streamUrl(url);
    const ws = live ? await openSocket(live) : null;
    if (ws) {
      this.capture = new StreamingCapture(ws, this.onLevel, this.onSent);
      try { return await this.capture.record(); } finally { this.capture = null; }
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
