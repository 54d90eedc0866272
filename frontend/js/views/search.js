// Search in the resident's own messages of the community
// (GET /api/communities/<slug>/search/?q=): the results take the place of the
// conversation list; each opens its conversation at the message.

import { formatTime, t } from "../i18n.js";
import { conversationTitle } from "./conversationList.js";
import { byId, h } from "./dom.js";

const SNIPPET_CHARS = 160;

export class SearchView {
  /** `search(q)` resolves to message objects; `onOpen(conversation, message)`. */
  constructor({ search, onOpen, hrefFor }) {
    this.search = search;
    this.onOpen = onOpen;
    this.hrefFor = hrefFor;
    this.form = byId("search-form");
    this.input = byId("search-input");
    this.section = byId("search-results");
    this.heading = byId("search-heading");
    this.status = byId("search-status");
    this.list = byId("search-list");
    this.conversations = byId("conversation-list");
    this.store = null;
    this.seq = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.run(this.input.value.trim());
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.section.hidden) {
        event.preventDefault();
        this.close();
      }
    });
    byId("search-close").addEventListener("click", () => this.close({ focus: true }));
  }

  bind(store) {
    this.store = store;
    this.input.value = "";
    this.close();
  }

  async run(query) {
    if (!query) {
      this.close();
      return;
    }
    const seq = ++this.seq;
    this.section.hidden = false;
    this.conversations.hidden = true;
    this.heading.textContent = t("search.heading", { q: query });
    this.status.textContent = t("search.searching");
    this.list.replaceChildren();
    let results;
    try {
      results = await this.search(query);
    } catch {
      if (seq === this.seq) this.status.textContent = t("search.error");
      return;
    }
    if (seq !== this.seq) return;
    this.status.textContent = results.length
      ? t("search.count", { n: results.length })
      : t("search.none");
    this.list.replaceChildren(...results.map((message) => this.item(message)));
  }

  close({ focus = false } = {}) {
    this.seq += 1;
    this.section.hidden = true;
    this.conversations.hidden = false;
    this.list.replaceChildren();
    if (focus) this.input.focus();
  }

  item(message) {
    const known = this.store.conversations.get(message.conversation);
    const title = conversationTitle(this.store, known ?? { participants: message.participants });
    const sender =
      message.sender === this.store.me ? t("list.you") : this.store.displayName(message.sender);
    const text =
      message.body.length > SNIPPET_CHARS ? `${message.body.slice(0, SNIPPET_CHARS)}…` : message.body;
    const id = `result-${message.id}`;
    const href = `${this.hrefFor(message.conversation)}&message=${message.id}`;
    return h(
      "li",
      { class: "conversation result" },
      h("a", {
        href,
        class: "names",
        id: `${id}-title`,
        text: title,
        "aria-describedby": `${id}-text ${id}-time`,
        onclick: (event) => {
          if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
          event.preventDefault();
          this.onOpen(message.conversation, message.id);
        },
      }),
      h("time", { id: `${id}-time`, datetime: message.sent_at, text: formatTime(message.sent_at) }),
      h("span", { class: "preview", id: `${id}-text`, text: t("list.from", { name: sender, text }) }),
    );
  }
}
