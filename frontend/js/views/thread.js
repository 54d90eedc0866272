// One conversation on screen: its title, the message log (history, live
// messages, pending sends), read receipts and who is typing.

import { formatFullTime, formatList, formatTime, t } from "../i18n.js";
import { conversationTitle } from "./conversationList.js";
import { byId, h } from "./dom.js";

const NEAR_EDGE_PX = 120;

export class ThreadView {
  constructor({ onRetry, onLoadOlder }) {
    this.onRetry = onRetry;
    this.onLoadOlder = onLoadOlder;
    this.title = byId("thread-title");
    this.log = byId("message-log");
    this.list = byId("messages");
    this.older = byId("load-older");
    this.start = byId("history-start");
    this.typing = byId("typing");
    this.empty = byId("thread-empty");
    this.store = null;
    this.current = { type: "none" };
    this.nodes = new Map();
    this.loading = false;
    this.older.addEventListener("click", () => this.onLoadOlder());
    this.log.addEventListener(
      "scroll",
      () => {
        if (this.log.scrollTop < NEAR_EDGE_PX && !this.older.hidden && !this.loading) {
          this.onLoadOlder();
        }
      },
      { passive: true },
    );
  }

  bind(store) {
    this.store = store;
    this.show({ type: "none" });
  }

  /** The conversation shown: `{type: "conversation", id}`, `{type: "draft", participants}` or none. */
  show(current) {
    this.current = current;
    this.nodes.clear();
    this.list.replaceChildren();
    this.render({ scroll: "bottom" });
  }

  conversationId() {
    if (this.current.type === "conversation") return this.current.id;
    if (this.current.type === "draft" && this.current.participants.length > 1) {
      return this.store.findByParticipants(this.current.participants)?.id ?? null;
    }
    return null;
  }

  setLoading(loading) {
    this.loading = loading;
    this.older.textContent = loading ? t("thread.loading") : t("thread.older");
  }

  renderTitle() {
    const id = this.conversationId();
    const conversation = id !== null ? this.store.conversations.get(id) : null;
    let text;
    if (this.current.type === "draft") text = t("thread.new");
    else if (conversation) text = conversationTitle(this.store, conversation);
    else text = t("app.title");
    if (this.title.textContent !== text) this.title.textContent = text;
  }

  /** Items to show, in order: stored messages by id, then pending sends. */
  items() {
    const id = this.conversationId();
    const messages = id !== null ? this.store.messagesOf(id) : [];
    const pending =
      this.current.type === "none"
        ? []
        : this.store.pendingFor({
            conversation: id,
            participants: this.current.type === "draft" ? this.current.participants : null,
          });
    return [
      ...messages.map((message) => ({ key: `m${message.id}`, message, sig: "sent" })),
      ...pending
        .sort((a, b) => a.createdAt - b.createdAt)
        .map((item) => ({ key: `p${item.clientId}`, item, sig: `${item.status}:${item.error}` })),
    ];
  }

  render({ scroll = "auto", history = false } = {}) {
    if (!this.store) return;
    const showing = this.current.type !== "none";
    this.empty.hidden = showing;
    this.log.hidden = !showing;
    this.title.parentElement.hidden = !showing;
    this.renderTitle();
    if (!showing) {
      this.typing.textContent = "";
      return;
    }
    const distanceFromBottom = this.log.scrollHeight - this.log.scrollTop;
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < NEAR_EDGE_PX;
    const items = this.items();
    const keys = new Set(items.map((item) => item.key));
    for (const [key, node] of this.nodes) {
      if (!keys.has(key)) {
        node.remove();
        this.nodes.delete(key);
      }
    }
    let previous = null;
    let addedMine = false;
    for (const item of items) {
      let node = this.nodes.get(item.key);
      if (!node || node.dataset.sig !== item.sig) {
        const fresh = this.renderItem(item);
        if (node) node.replaceWith(fresh);
        else if (item.item || item.message.sender === this.store.me) addedMine = true;
        node = fresh;
        this.nodes.set(item.key, node);
      }
      const expected = previous ? previous.nextSibling : this.list.firstChild;
      if (expected !== node) {
        if (previous) previous.after(node);
        else this.list.prepend(node);
      }
      previous = node;
    }
    this.renderReceipt();
    this.renderTyping();
    this.renderHistoryControls();
    if (history) this.log.scrollTop = this.log.scrollHeight - distanceFromBottom;
    else if (scroll === "bottom" || atBottom || addedMine) this.log.scrollTop = this.log.scrollHeight;
  }

  renderHistoryControls() {
    const id = this.conversationId();
    const conversation = id !== null ? this.store.conversations.get(id) : null;
    const state = conversation?.history ?? "complete";
    this.older.hidden = state === "complete" || state === "none";
    this.start.hidden = !(conversation && state === "complete");
  }

  renderItem({ key, message, item, sig }) {
    const me = this.store.me;
    const mine = item ? true : message.sender === me;
    const id = this.conversationId();
    const group = (id !== null ? this.store.conversations.get(id)?.participants.length : 0) > 2 ||
      (this.current.type === "draft" && this.current.participants.length > 2);
    const sender = mine ? t("message.you") : this.store.displayName(message.sender);
    const classes = ["message", mine ? "mine" : "theirs"];
    if (item) classes.push(item.status);
    const meta = h("p", { class: "meta" });
    if (message) {
      meta.append(
        h("time", {
          datetime: message.sent_at,
          title: formatFullTime(message.sent_at),
          text: formatTime(message.sent_at),
        }),
      );
    } else if (item.status === "failed") {
      meta.append(
        h("span", { class: "state", text: `${t("message.failed")} · ${errorText(item.error)}` }),
        h("button", {
          type: "button",
          class: "link retry",
          text: t("message.retry"),
          onclick: () => this.onRetry(item.clientId),
        }),
      );
    } else {
      meta.append(h("span", { class: "state", text: t("message.pending") }));
    }
    meta.append(h("span", { class: "receipt" }));
    return h(
      "li",
      { class: classes.join(" "), dataset: { key, sig } },
      h("p", {
        class: group && !mine ? "sender" : "sender visually-hidden",
        text: sender,
      }),
      h("p", { class: "body", text: message ? message.body : item.body }),
      meta,
    );
  }

  renderReceipt() {
    for (const node of this.list.querySelectorAll(".receipt")) node.textContent = "";
    const id = this.conversationId();
    if (id === null) return;
    const status = this.store.readStatus(id);
    if (!status) return;
    const node = this.nodes.get(`m${status.messageId}`)?.querySelector(".receipt");
    if (!node) return;
    const conversation = this.store.conversations.get(id);
    node.textContent =
      status.everyone && conversation.participants.length <= 2
        ? t("message.read")
        : t("message.readBy", {
            names: formatList(status.readers.map((name) => this.store.displayName(name))),
          });
  }

  /** Returns the ms until the next typing entry expires (or null). */
  renderTyping() {
    const id = this.conversationId();
    const names = id !== null ? this.store.typingIn(id) : [];
    let text = "";
    if (names.length === 1) text = t("typing.one", { name: this.store.displayName(names[0]) });
    else if (names.length > 1) {
      text = t("typing.many", { names: formatList(names.map((name) => this.store.displayName(name))) });
    }
    if (this.typing.textContent !== text) this.typing.textContent = text;
  }
}

export function errorText(code) {
  const key = `error.${code}`;
  const text = t(key);
  return text === key ? t("error.other") : text;
}
