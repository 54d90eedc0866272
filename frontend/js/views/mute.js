// The conversation header's mute switch (PATCH /api/conversations/<id>/
// {"muted": ...}): no email and no push for that conversation, for this
// resident only. Its state comes from the conversation list's `muted`.

import { t } from "../i18n.js";
import { byId } from "./dom.js";

export class MuteButton {
  /** `save(id, muted)` resolves to the conversation summary the API answers. */
  constructor({ save, onSaved }) {
    this.save = save;
    this.onSaved = onSaved;
    this.button = byId("mute-toggle");
    this.state = byId("mute-state");
    this.conversation = null;
    this.button.addEventListener("click", () => this.toggle());
  }

  /** Show the switch for a conversation (or hide it: null). */
  render(conversation) {
    this.conversation = conversation;
    this.button.hidden = conversation === null;
    const muted = Boolean(conversation?.muted);
    this.button.setAttribute("aria-pressed", String(muted));
    const text = conversation && muted ? t("mute.on") : "";
    if (this.state.textContent !== text) this.state.textContent = text;
    this.state.hidden = !text;
  }

  async toggle() {
    const conversation = this.conversation;
    if (!conversation) return;
    this.button.disabled = true;
    try {
      this.onSaved(await this.save(conversation.id, !conversation.muted));
    } catch {
      this.state.textContent = t("mute.error");
      this.state.hidden = false;
    } finally {
      this.button.disabled = false;
      this.button.focus();
    }
  }
}
