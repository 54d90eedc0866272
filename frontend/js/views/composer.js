// The message field and its "Envoyer" button.

import { byId } from "./dom.js";

const MAX_ROWS_PX = 160;

export class Composer {
  constructor({ onSend, onTyping }) {
    this.form = byId("composer");
    this.input = byId("message-input");
    this.error = byId("composer-error");
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends, Shift+Enter starts a new line; never mid-composition (IME).
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.fit();
      this.setError("");
      if (this.input.value.trim()) this.onTyping();
    });
  }

  submit() {
    const body = this.input.value.trim();
    if (!body) {
      this.input.focus();
      return;
    }
    if (this.onSend(body) !== false) {
      this.input.value = "";
      this.fit();
    }
    this.input.focus();
  }

  fit() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_ROWS_PX)}px`;
  }

  setVisible(visible) {
    this.form.hidden = !visible;
  }

  setError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  focus() {
    this.input.focus();
  }
}
