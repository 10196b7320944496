// On-screen keypads: the kiosk has a touchscreen and no keyboard. A physical keyboard works too.
// Text is always written with textContent / value, never as HTML.

const LETTER_ROWS = ["1234567890", "QWERTYUIOP", "ASDFGHJKL'", "ZXCVBNM-."];
export const MAX_NAME = 40;

function button(label, key, extraClass = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `key ${extraClass}`.trim();
  b.dataset.key = key;
  b.textContent = label;
  return b;
}

// Names typed on the keypad come out in Title Case: there is no shift key to press.
function nextChar(current, key) {
  const startOfWord = current === "" || current.endsWith(" ");
  return startOfWord ? key.toUpperCase() : key.toLowerCase();
}

function read(target) {
  return "value" in target && target.tagName === "INPUT" ? target.value : target.textContent;
}

function write(target, text) {
  if ("value" in target && target.tagName === "INPUT") target.value = text;
  else target.textContent = text;
  target.dispatchEvent(new Event("input", { bubbles: true }));
}

export function press(target, key) {
  const text = read(target);
  if (key === "Backspace") write(target, text.slice(0, -1));
  else if (key === "Space") { if (text && !text.endsWith(" ") && text.length < MAX_NAME) write(target, text + " "); }
  else if (key.length === 1 && text.length < MAX_NAME) {
    write(target, text + (target.tagName === "INPUT" ? key : nextChar(text, key)));
  }
}

// Fill a .keypad container with keys that type into the element named by data-target.
export function buildKeypad(container) {
  const target = document.getElementById(container.dataset.target);
  if (container.classList.contains("keypad-letters")) {
    for (const row of LETTER_ROWS) {
      const r = document.createElement("div");
      r.className = "key-row";
      for (const ch of row) r.append(button(ch, ch));
      container.append(r);
    }
    const last = document.createElement("div");
    last.className = "key-row";
    last.append(button("Space", "Space", "key-space"), button("⌫", "Backspace", "key-wide"));
    last.lastChild.setAttribute("aria-label", "Delete last letter");
    container.append(last);
  }
  // A tapped key must not take the focus: Space or Enter on a real keyboard would press it again.
  container.addEventListener("mousedown", (e) => { if (e.target.closest("[data-key]")) e.preventDefault(); });
  container.addEventListener("click", (e) => {
    const key = e.target.closest("[data-key]");
    if (key) press(target, key.dataset.key);
  });
}

// Typing on a real keyboard while a keypad's screen is showing (and no form field has focus).
export function listenToKeyboard(isActive, target, onEnter) {
  document.addEventListener("keydown", (e) => {
    if (!isActive() || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.target instanceof HTMLInputElement) return;
    // A focused button keeps its own Enter and Space (keyboard users activate buttons with them).
    if (e.target instanceof HTMLButtonElement && (e.key === "Enter" || e.key === " ")) return;
    if (e.key === "Enter") { e.preventDefault(); onEnter(); }
    else if (e.key === "Backspace") { e.preventDefault(); press(target, "Backspace"); }
    else if (e.key === " ") { e.preventDefault(); press(target, "Space"); }
    else if (e.key.length === 1) { e.preventDefault(); write(target, read(target).length < MAX_NAME ? read(target) + e.key : read(target)); }
  });
}
