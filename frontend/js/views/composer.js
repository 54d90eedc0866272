// The message field, its attachments and its "Envoyer" button.

import { t } from "../i18n.js";
import { AttachmentTray } from "./attachments.js";
import { byId } from "./dom.js";

const MAX_ROWS_PX = 160;

export class Composer {
  /** `onSend(body, attachments)`; `upload(file, onProgress)` as in uploads.js. */
  constructor({ onSend, onTyping, upload, maxBytes }) {
    this.tray = new AttachmentTray({ upload, maxBytes, onChange: (text) => this.setError(text) });
    this.form = byId("composer");
    this.input = byId("message-input");
    this.error = byId("composer-error");
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.busy = false;
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

  async submit() {
    const body = this.input.value.trim();
    if (this.tray.busy()) {
      this.setError(t("attach.wait"));
      return;
    }
    const attachments = this.tray.attachments();
    if ((!body && !attachments.length) || this.busy) {
      this.input.focus();
      return;
    }
    this.busy = true;
    try {
      // false: not sent (no recipient yet, say), so the text and files stay.
      const outcome = await this.onSend(body, attachments);
      if (outcome !== false) {
        this.tray.clear();
        if (this.input.value.trim() === body) {
          this.input.value = "";
          this.fit();
        }
      }
    } finally {
      this.busy = false;
    }
    this.input.focus();
  }

  fit() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, MAX_ROWS_PX)}px`;
  }

  setVisible(visible) {
    this.form.hidden = !visible;
    if (!visible) this.tray.clear();
  }

  /** Uploads belong to one community: forget them when switching. */
  clearAttachments() {
    this.tray.clear();
  }

  setError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  focus() {
    this.input.focus();
  }
}
