// Trainer pages: the PIN keypad, play buttons, and the workshop round (trainees answer in turn).
import { buildKeypad, listenToKeyboard } from "./keypad.js";
import { Answerer, levelToPercent } from "./recorder.js";

const $ = (id) => document.getElementById(id);
const player = new Audio();

for (const k of document.querySelectorAll(".keypad")) buildKeypad(k);

document.addEventListener("click", (e) => {
  const b = e.target.closest("button.play[data-src]");
  if (b) { player.src = b.dataset.src; player.play().catch(() => {}); }
});

// Left alone on a shared screen, trainer pages log out (the roster names people).
const logout = $("logout");
if (logout) {
  let timer = null;
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => logout.submit(), Number(document.body.dataset.idleS) * 1000); };
  for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, arm, { passive: true });
  arm();
}

const round = $("round");
if (round) {
  const id = round.dataset.round;
  const headers = { "X-CSRF-Token": round.dataset.csrf };
  const name = $("round-name");
  const button = $("round-record");
  let answerer = null;
  const say = (text, isError = false) => {
    $("round-status").textContent = text;
    $("round-status").classList.toggle("error", isError);
  };
  name.addEventListener("input", () => { button.disabled = !name.textContent.trim() && !answerer; });

  async function refresh() {
    const response = await fetch(`/trainer/rounds/${id}/results`);
    if (response.ok) $("round-results").innerHTML = await response.text();  // server-rendered, escaped
  }

  async function answer() {
    if (answerer) { answerer.stop(); return; }
    const who = name.textContent.trim();
    if (!who) return;
    answerer = new Answerer({
      mode: round.dataset.recordMode, headers,
      onLevel: (db) => { $("round-meter").style.width = `${levelToPercent(db)}%`; },
      onSent: () => say(`Judging ${who}'s answer…`),
    });
    button.textContent = "■ Finished";
    say(`${who}: answer the customer now.`);
    try {
      const result = await answerer.send(`/trainer/rounds/${id}/answers?name=${encodeURIComponent(who)}`,
                                         `/trainer/rounds/${id}/level`, `/trainer/rounds/${id}/stop`);
      say(`${result.name} scored ${result.score}. Next trainee: enter a name.`);
      name.textContent = "";
      await refresh();
    } catch (e) {
      say(e.message, true);
    } finally {
      answerer = null;
      button.textContent = "● Record answer";
      button.disabled = !name.textContent.trim();
    }
  }

  button.addEventListener("click", answer);
  listenToKeyboard(() => true, name, answer);
}
