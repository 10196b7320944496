// The trainee's kiosk: start → name → (calibration) → scenario → conversation → feedback.
// Shared kiosk: after `idle_timeout_s` without a touch the screen returns to the start and
// every trace of the previous trainee is cleared from the page.
import { buildKeypad, listenToKeyboard } from "./keypad.js";
import { Answerer, api, levelToPercent } from "./recorder.js";

const $ = (id) => document.getElementById(id);
const player = $("player");
let config = null;
let visit = null;          // the server's token for this trainee, or null
let line = null;           // the customer's current line
let difficulty = 0;
let setting = "";          // "" = every setting
let busy = 0;              // recording, judging or playing: the idle timer waits
let idleTimer = null;
let answerer = null;

// body[data-state] says where the trainee is (styles and tests read it): start, name, calibrate,
// scenarios, speaking (the customer), your-turn, recording, judging, finished, feedback.
function setState(state) { document.body.dataset.state = state; }

function show(screen) {
  setState(screen === "talk" ? "speaking" : screen);
  armIdle();
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${screen}`;
  $("btn-home").hidden = screen === "start";
  const heading = document.querySelector(`#screen-${screen} h1`);
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

function status(id, text, isError = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", isError);
}

async function withBusy(task) {
  busy += 1;
  try { return await task(); } finally { busy -= 1; armIdle(); }
}

// --- Idle timeout -------------------------------------------------------------------------
// Reading counts as being here: any wheel, scroll, key, touch or pointer input restarts the
// timer. WARN_S before the reset (half the timeout, if that is shorter) a full-screen "Still
// there?" gives the reader one big button; either way what was judged is already stored.

const WARN_S = 10;
const warnLead = () => Math.min(WARN_S, config.idle_timeout_s / 2);
let warnTimer = null;
let countdown = null;

function hideWarning() {
  clearInterval(countdown);
  $("still-there").hidden = true;
}

function warn() {
  if (busy) { armIdle(); return; }
  let left = Math.round(warnLead());
  $("still-count").textContent = String(left);
  $("still-there").hidden = false;
  $("btn-still-here").focus({ preventScroll: true });
  countdown = setInterval(() => { left = Math.max(0, left - 1); $("still-count").textContent = String(left); }, 1000);
  idleTimer = setTimeout(() => { hideWarning(); if (busy) armIdle(); else forget(); }, left * 1000);
}

function armIdle() {
  clearTimeout(idleTimer);
  clearTimeout(warnTimer);
  hideWarning();
  if (!config || document.body.dataset.state === "start") return;
  warnTimer = setTimeout(warn, (config.idle_timeout_s - warnLead()) * 1000);
}

// End the visit and wipe the page: the next person must see nothing of the last one.
function forget() {
  if (visit) fetch(`/api/visits/${visit}`, { method: "DELETE", headers: { "X-Kiosk": "1" }, keepalive: true });
  visit = null;
  line = null;
  if (answerer) answerer.stop();
  player.pause();
  player.removeAttribute("src");
  for (const id of ["name-display", "caption", "last-said", "last-why", "feedback", "customer-name",
                    "scenario-title", "who", "name-error", "cal-status", "talk-status", "anger-word"]) $(id).textContent = "";
  $("who").hidden = true;
  $("last-turn").hidden = true;
  $("btn-feedback").hidden = true;
  $("keep-audio").checked = Boolean(config && config.keep_audio_default);
  show("start");
}

// While "Still there?" shows, only a tap on it (its button or the dim backdrop) or a key answers:
// the tap must land on the overlay, never on whatever the overlay would uncover under the finger.
function activity(e) {
  if ($("still-there").hidden || e.type === "keydown") armIdle();
}
for (const ev of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "touchmove"]) {
  document.addEventListener(ev, activity, { passive: true });
}
window.addEventListener("scroll", activity, { passive: true });
$("still-there").addEventListener("click", armIdle);
// The tab is closed (or the kiosk browser restarted) mid-practice: end the visit now, so its
// ending is stored at once rather than when the server expires it minutes later.
window.addEventListener("pagehide", () => {
  if (visit) fetch(`/api/visits/${visit}`, { method: "DELETE", headers: { "X-Kiosk": "1" }, keepalive: true });
});

// --- Audio ---------------------------------------------------------------------------------

// The playback now holding the idle timer. A new play() replaces the old sound, so it must also
// release the old one's hold: otherwise `busy` never returns to 0 and the kiosk never resets.
let releasePlayback = null;

function play(url) {
  if (releasePlayback) releasePlayback();
  return withBusy(() => new Promise((resolve) => {
    const release = () => {
      if (releasePlayback === release) releasePlayback = null;
      resolve();
    };
    releasePlayback = release;
    player.onended = player.onerror = release;
    player.src = url;
    player.play().catch(release);  // blocked autoplay: the caption is on screen anyway
  }));
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("button.play[data-src]");
  if (b) play(b.dataset.src);
});

// --- Start and name ------------------------------------------------------------------------

async function loadConfig() {
  config = await (await fetch("/api/config")).json();
  if (!config.ready) {
    $("btn-begin").disabled = true;
    $("btn-begin").textContent = "Getting ready…";
    status("start-status", config.error || "Loading the speech model…", Boolean(config.error));
    setTimeout(loadConfig, 1000);
    return;
  }
  $("btn-begin").disabled = false;
  $("btn-begin").textContent = "Start";
  status("start-status", "");
  $("trainer-link").hidden = !config.trainer;
  $("keep-audio").checked = config.keep_audio_default;
  $("calibration-text").textContent = config.calibration_text;
  renderSettings();
  renderScenarios();
}

$("btn-begin").addEventListener("click", () => { $("name-display").textContent = ""; show("name"); });
$("btn-home").addEventListener("click", forget);

async function submitName() {
  const name = $("name-display").textContent.trim();
  if (!name) { status("name-error", "Please enter your name or badge number.", true); return; }
  status("name-error", "");
  try {
    const data = await (await api("/api/visits", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name, keep_audio: $("keep-audio").checked }),
    })).json();
    visit = data.visit;
    const greet = document.createElement("span");
    greet.className = "greet";
    greet.textContent = data.new ? "Welcome, " : "Welcome back, ";
    $("who").replaceChildren(greet, data.name);   // text nodes only: a name is never markup
    $("who").hidden = false;
    armIdle();
    show(data.calibrated ? "scenarios" : "calibrate");
  } catch (e) { status("name-error", e.message, true); }
}

$("btn-name-ok").addEventListener("click", submitName);
listenToKeyboard(() => !$("screen-name").hidden, $("name-display"), submitName);

// --- Recording (calibration and answers) ----------------------------------------------------

function recordButton(button, meter, idleLabel) {
  return {
    start() { button.textContent = "■ I've finished"; button.classList.add("recording"); button.setAttribute("aria-pressed", "true"); },
    end() {
      button.textContent = idleLabel; button.classList.remove("recording"); button.setAttribute("aria-pressed", "false");
      $(meter).style.width = "0%";
    },
  };
}

function newAnswerer(meter, statusId) {
  return new Answerer({
    mode: config.record_mode,
    pushToTalk: config.push_to_talk,
    onLevel: (db) => { $(meter).style.width = `${levelToPercent(db)}%`; },
    onSent: () => { setState("judging"); status(statusId, "One moment…"); },
  });
}

async function capture(button, meter, statusId, idleLabel, url) {
  if (answerer) { answerer.stop(); return null; }   // second tap: "I've finished"
  const ui = recordButton(button, meter, idleLabel);
  answerer = newAnswerer(meter, statusId);
  ui.start();
  const before = document.body.dataset.state;
  setState("recording");
  const finish = config.push_to_talk ? " Tap “I've finished” when you are done." : "";
  status(statusId, (config.record_mode === "server" ? "Listening… speak into the headset." : "Listening… speak now.") + finish);
  try {
    return await withBusy(() => answerer.send(url, `/api/visits/${visit}/level`, `/api/visits/${visit}/stop`));
  } catch (e) {
    if (e.status === 404) { forget(); return null; }
    setState(before);
    status(statusId, e.message, true);
    return null;
  } finally {
    answerer = null;
    ui.end();
  }
}

$("btn-calibrate").addEventListener("click", async () => {
  const result = await capture($("btn-calibrate"), "cal-meter", "cal-status", "● Tap and read",
                               `/api/visits/${visit}/calibration`);
  if (result) { status("cal-status", "Thank you: your calm voice is set."); show("scenarios"); }
});
$("btn-skip-calibration").addEventListener("click", () => show("scenarios"));

// --- Scenarios -------------------------------------------------------------------------------

function filterButton(label, pressed, onPress) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "btn btn-filter";
  b.textContent = label;
  b.setAttribute("aria-pressed", String(pressed));
  b.addEventListener("click", onPress);
  return b;
}

// Where the customer is (delivery, returns desk, checkout…): one filter button per setting present.
function renderSettings() {
  const settings = [...new Set(config.scenarios.map((s) => s.setting))].sort();
  $("setting-filters").replaceChildren(
    ...["", ...settings].map((name) => filterButton(name ? name[0].toUpperCase() + name.slice(1) : "Anywhere",
      name === setting, () => { setting = name; renderSettings(); renderScenarios(); })));
}

function renderScenarios() {
  const list = $("scenario-list");
  list.replaceChildren();
  const shown = config.scenarios.filter((x) => (!difficulty || x.difficulty === difficulty) && (!setting || x.setting === setting));
  if (!shown.length) {
    const p = document.createElement("p");
    p.textContent = "No customer matches both choices: try another.";
    list.append(p);
  }
  for (const s of shown) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "scenario-card";
    b.dataset.scenario = s.id;
    const title = document.createElement("span");
    title.className = "scenario-title";
    title.textContent = s.title;
    const meta = document.createElement("span");
    meta.className = "scenario-meta";
    meta.textContent = `${s.setting} · ${"★".repeat(s.difficulty)}${"☆".repeat(3 - s.difficulty)} · ${s.customer}`;
    b.append(title, meta);
    b.addEventListener("click", () => startPractice(s.id));
    list.append(b);
  }
}

for (const f of document.querySelectorAll(".btn-filter[data-difficulty]")) {
  f.addEventListener("click", () => {
    difficulty = Number(f.dataset.difficulty);
    for (const g of document.querySelectorAll(".btn-filter[data-difficulty]")) g.setAttribute("aria-pressed", String(g === f));
    renderScenarios();
  });
}
$("btn-surprise").addEventListener("click", () => startPractice("surprise"));

// --- Conversation ----------------------------------------------------------------------------

// Anger 0 lights no bar; each level above it lights one more, up to 4 (furious).
const ANGER_WORDS = ["calm", "a little upset", "upset", "angry", "furious"];

function showAnger(anger) {
  const meter = $("anger-meter");
  [...meter.children].forEach((seg, i) => seg.classList.toggle("on", i < anger));
  meter.dataset.anger = anger;
  meter.setAttribute("aria-label", `Customer anger: ${ANGER_WORDS[anger] || anger}`);
  $("anger-word").textContent = ANGER_WORDS[anger] || "";
}

async function sayLine(next) {
  line = next;
  $("customer-name").textContent = next.customer;
  $("caption").textContent = next.text;
  showAnger(next.anger);
  $("btn-record").disabled = true;
  setState("speaking");
  await play(next.audio_url);
  $("btn-record").disabled = false;
}

async function startPractice(id) {
  try {
    const data = await (await api(`/api/visits/${visit}/practice`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ scenario: id }),
    })).json();
    $("scenario-title").textContent = data.scenario.title;
    $("last-turn").hidden = true;
    $("btn-feedback").hidden = true;
    $("talk-record").hidden = false;
    status("talk-status", "");
    show("talk");
    await sayLine(data.line);
    setState("your-turn");
    status("talk-status", "Your turn: tap the button and answer out loud.");
  } catch (e) {
    if (e.status === 404) forget(); else alertOn("scenario-list", e.message);
  }
}

function alertOn(anchorId, message) {
  const p = document.createElement("p");
  p.className = "error";
  p.setAttribute("role", "alert");
  p.textContent = message;
  $(anchorId).before(p);
  setTimeout(() => p.remove(), 8000);
}

$("btn-replay-line").addEventListener("click", () => { if (line) play(line.audio_url); });

$("btn-record").addEventListener("click", async () => {
  const data = await capture($("btn-record"), "meter", "talk-status", "● Tap to answer", `/api/visits/${visit}/answer`);
  if (!data) return;
  const { turn } = data;
  $("last-said").textContent = turn.transcript;
  const r = turn.reaction;
  const moved = r.anger_after < r.anger_before ? "calmer" : r.anger_after > r.anger_before ? "angrier" : "no calmer";
  $("last-why").textContent = `The customer is ${moved}${r.reasons.length ? `: they ${r.reasons.join("; ")}.` : "."}`;
  $("last-turn").hidden = false;
  status("talk-status", data.finished ? "The conversation is over." : "");
  if (data.finished) $("talk-record").hidden = true;
  await sayLine(data.line);
  if (data.finished) { setState("finished"); $("btn-feedback").hidden = false; $("btn-feedback").focus(); }
  else { setState("your-turn"); status("talk-status", "Your turn again."); }
  // The reaction pushed the page down: the next thing to tap must be on screen.
  ($("btn-feedback").hidden ? $("talk-record") : $("btn-feedback")).scrollIntoView({ block: "nearest" });
});

// --- Feedback ----------------------------------------------------------------------------------

$("btn-feedback").addEventListener("click", async () => {
  try {
    const html = await (await api(`/api/visits/${visit}/feedback`)).text();
    $("feedback").innerHTML = html;  // rendered and escaped by the server (Jinja2 autoescape)
    show("feedback");
  } catch (e) {
    if (e.status === 404) forget(); else status("talk-status", e.message, true);
  }
});
$("btn-again").addEventListener("click", () => { $("feedback").textContent = ""; show("scenarios"); });
$("btn-done").addEventListener("click", forget);

for (const k of document.querySelectorAll(".keypad")) buildKeypad(k);
loadConfig().catch(() => status("start-status", "The kiosk server is not answering.", true));
