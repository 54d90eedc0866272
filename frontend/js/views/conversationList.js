// The conversation list: who, last message, time, unread count.

import { formatList, formatTime, t } from "../i18n.js";
import { h } from "./dom.js";

const PREVIEW_CHARS = 140;

/** The last message in a line: its text, or what it holds when it has none. */
export function previewText(message) {
  if (message.deleted) return t("list.deleted");
  if (!message.body && message.attachments?.length) {
    return message.attachments.some((a) => a.thumbnail_url) ? t("list.photo") : t("list.document");
  }
  const body = message.body;
  return body.length > PREVIEW_CHARS ? `${body.slice(0, PREVIEW_CHARS)}…` : body;
}

export function conversationTitle(store, conversation) {
  return formatList(store.othersIn(conversation.participants).map((name) => store.displayName(name)));
}

export class ConversationList {
  constructor({ root, empty, onOpen, hrefFor }) {
    this.root = root;
    this.empty = empty;
    this.onOpen = onOpen;
    this.hrefFor = hrefFor;
    this.store = null;
    this.selected = null;
  }

  bind(store) {
    this.store = store;
    this.render();
  }

  select(id) {
    this.selected = id;
    this.render();
  }

  render() {
    if (!this.store) return;
    const focused = document.activeElement?.closest?.("[data-conversation]")?.dataset.conversation;
    const items = this.store.sortedConversations().map((conversation) => this.item(conversation));
    this.root.replaceChildren(...items);
    this.empty.hidden = items.length > 0;
    if (focused) this.root.querySelector(`[data-conversation="${CSS.escape(focused)}"]`)?.focus();
  }

  preview(conversation) {
    const last = conversation.lastMessage;
    if (!last) return t("list.noMessage");
    const text = previewText(last);
    if (last.sender === this.store.me) return t("list.from", { name: t("list.you"), text });
    if (conversation.participants.length > 2) {
      return t("list.from", { name: this.store.displayName(last.sender), text });
    }
    return text;
  }

  item(conversation) {
    const last = conversation.lastMessage;
    const unread = conversation.unread;
    const prefix = `conversation-${conversation.id}`;
    // The link holds the neighbours' names only, so that its name is its
    // visible text (WCAG 2.5.3); time, last message and unread count
    // describe it, and its ::after covers the row so all of it is clickable.
    const link = h("a", {
      href: this.hrefFor(conversation.id),
      class: "names",
      id: `${prefix}-names`,
      text: conversationTitle(this.store, conversation),
      "aria-current": conversation.id === this.selected ? "page" : null,
      "aria-describedby": `${prefix}-unread ${prefix}-preview ${prefix}-time ${prefix}-muted`,
      dataset: { conversation: String(conversation.id) },
      onclick: (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        this.onOpen(conversation.id);
      },
    });
    return h(
      "li",
      {
        class: unread ? "conversation unread" : "conversation",
        dataset: { current: conversation.id === this.selected ? "true" : undefined },
      },
      link,
      last
        ? h("time", { id: `${prefix}-time`, datetime: last.sent_at, text: formatTime(last.sent_at) })
        : null,
      h("span", { class: "preview", id: `${prefix}-preview`, text: this.preview(conversation) }),
      conversation.muted
        ? h(
            "span",
            { class: "muted-mark", id: `${prefix}-muted` },
            h("span", { "aria-hidden": "true", text: "🔕" }),
            h("span", { class: "visually-hidden", text: t("list.muted") }),
          )
        : null,
      unread
        ? h(
            "span",
            { class: "badge" },
            h("span", { "aria-hidden": "true", text: String(unread) }),
            h("span", {
              class: "visually-hidden",
              id: `${prefix}-unread`,
              text: t("list.unread", { n: unread }),
            }),
          )
        : null,
    );
  }
}
