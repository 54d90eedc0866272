// A message's options menu (ARIA menu button pattern): opened from its
// button by click, Enter or Space with the first item focused; arrows, Home
// and End move; Escape or Tab close it and give focus back to the button; a
// click elsewhere closes it.

import { h } from "./dom.js";

export class MessageMenu {
  constructor({ label }) {
    this.label = label;
    this.node = null;
    this.trigger = null;
    document.addEventListener(
      "pointerdown",
      (event) => {
        if (this.node && !this.node.contains(event.target) && event.target !== this.trigger) {
          this.close({ focus: false });
        }
      },
      true,
    );
  }

  get isOpen() {
    return this.node !== null;
  }

  /** `entries`: `[{ label, action, danger }]`; the menu opens after `trigger`. */
  open(trigger, entries) {
    const reopening = this.trigger === trigger;
    this.close({ focus: false });
    if (reopening) return;
    const items = entries.map((entry) =>
      h("button", {
        type: "button",
        role: "menuitem",
        tabindex: "-1",
        class: entry.danger ? "danger" : null,
        text: entry.label,
        onclick: () => {
          this.close({ focus: false });
          entry.action();
        },
      }),
    );
    this.node = h(
      "ul",
      { role: "menu", class: "menu", "aria-label": this.label() },
      items.map((item) => h("li", { role: "none" }, item)),
    );
    this.node.addEventListener("keydown", (event) => this.onKey(event, items));
    this.trigger = trigger;
    trigger.setAttribute("aria-expanded", "true");
    trigger.after(this.node);
    items[0]?.focus();
  }

  close({ focus = true } = {}) {
    if (!this.node) return;
    this.node.remove();
    this.node = null;
    const trigger = this.trigger;
    this.trigger = null;
    trigger.setAttribute("aria-expanded", "false");
    if (focus && trigger.isConnected) trigger.focus();
  }

  onKey(event, items) {
    const index = items.indexOf(document.activeElement);
    const moves = {
      ArrowDown: (index + 1) % items.length,
      ArrowUp: (index - 1 + items.length) % items.length,
      Home: 0,
      End: items.length - 1,
    };
    if (event.key in moves) {
      event.preventDefault();
      items[moves[event.key]].focus();
    } else if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    }
  }
}
