// Whether this tab is in use: `idle` after five minutes hidden or untouched,
// `active` again at the first touch. The rule is pure; the tracker wires it
// to the page.

export const IDLE_AFTER_MS = 5 * 60 * 1000;
const CHECK_EVERY_MS = 15_000;
const ACTIVITY_EVENTS = ["pointerdown", "keydown", "wheel", "touchstart", "focus"];

/** The presence state for the given facts (times in ms). */
export function presenceState({ now, lastActivity, hiddenSince, idleAfter = IDLE_AFTER_MS }) {
  if (hiddenSince !== null && now - hiddenSince >= idleAfter) return "idle";
  if (now - lastActivity >= idleAfter) return "idle";
  return "active";
}

export class PresenceTracker {
  constructor({ doc, win, onChange, now = () => Date.now() }) {
    this.doc = doc;
    this.win = win;
    this.onChange = onChange;
    this.now = now;
    this.lastActivity = now();
    this.hiddenSince = doc.visibilityState === "hidden" ? now() : null;
    this.state = "active";
    this.touch = this.touch.bind(this);
    this.check = this.check.bind(this);
  }

  start() {
    for (const name of ACTIVITY_EVENTS) {
      this.win.addEventListener(name, this.touch, { passive: true, capture: true });
    }
    this.doc.addEventListener("visibilitychange", () => {
      this.hiddenSince = this.doc.visibilityState === "hidden" ? this.now() : null;
      if (this.hiddenSince === null) this.touch();
      else this.check();
    });
    this.timer = this.win.setInterval(this.check, CHECK_EVERY_MS);
  }

  touch() {
    this.lastActivity = this.now();
    this.check();
  }

  check() {
    const state = presenceState({
      now: this.now(),
      lastActivity: this.lastActivity,
      hiddenSince: this.hiddenSince,
    });
    if (state !== this.state) {
      this.state = state;
      this.onChange(state);
    }
  }
}
