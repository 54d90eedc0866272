// One conversation on screen: its title, the message log (history, live
// messages, pending sends), read receipts, who is typing, and the options of
// one's own messages (edit within the window, delete).

import { formatList, t } from "../i18n.js";
import { conversationTitle } from "./conversationList.js";
import { byId } from "./dom.js";
import { MessageMenu } from "./menu.js";
import { errorText, messageItem } from "./message.js";
import { PhotoViewer } from "./viewer.js";

export { errorText };

const NEAR_EDGE_PX = 120;

export class ThreadView {
  /** `onEdit(id, body)` and `onDelete(id)` send the frames; `editWindowSeconds` from the server. */
  constructor({ onRetry, onLoadOlder, onEdit, onDelete, editWindowSeconds }) {
    this.onRetry = onRetry;
    this.onLoadOlder = onLoadOlder;
    this.onEdit = onEdit;
    this.onDelete = onDelete;
    this.editWindowSeconds = editWindowSeconds;
    this.editingId = null;
    this.foundId = null;
    this.menu = new MessageMenu({ label: () => t("message.actions") });
    this.viewer = new PhotoViewer();
    this.deleteDialog = byId("delete-dialog");
    this.handlers = {
      onRetry: (clientId) => this.onRetry(clientId),
      onActions: (message, button) => this.openMenu(message, button),
      onOpenPhoto: (attachment, button) => this.viewer.open(attachment, button),
      onSave: (id, body) => this.finishEdit(id, body),
      onCancel: () => this.finishEdit(this.editingId, null),
    };
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
    this.editingId = null;
    this.foundId = null;
    this.menu.close({ focus: false });
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
      ...messages.map((message) => ({
        key: `m${message.id}`,
        message,
        sig: `${message.rev ?? message.id}:${message.id === this.editingId}:${message.id === this.foundId}`,
      })),
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
        // An edit or deletion redraws the bubble: keep the keyboard where it was.
        const hadFocus = Boolean(node?.contains(document.activeElement));
        const focused = document.activeElement;
        if (node) node.replaceWith(fresh);
        else if (item.item || item.message.sender === this.store.me) addedMine = true;
        if (hadFocus) this.refocus(fresh, focused);
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

  /** Focus in a redrawn bubble: its options button if that had it, else the bubble. */
  refocus(fresh, focused) {
    const options = focused?.classList.contains("message-actions")
      ? fresh.querySelector(".message-actions")
      : null;
    if (options) {
      options.focus({ preventScroll: true });
      return;
    }
    fresh.tabIndex = -1;
    fresh.focus({ preventScroll: true });
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
    const group =
      (id !== null ? this.store.conversations.get(id)?.participants.length : 0) > 2 ||
      (this.current.type === "draft" && this.current.participants.length > 2);
    return messageItem(
      {
        key,
        sig,
        message,
        item,
        mine,
        sender: mine ? t("message.you") : this.store.displayName(message.sender),
        showSender: group && !mine,
        editing: Boolean(message) && message.id === this.editingId && !message.deleted,
        found: Boolean(message) && message.id === this.foundId,
      },
      this.handlers,
    );
  }

  // Options of one's own messages

  openMenu(message, button) {
    const entries = [];
    if (this.store.canEdit(message, this.editWindowSeconds)) {
      entries.push({ label: t("message.edit"), action: () => this.startEdit(message.id) });
    }
    entries.push({
      label: t("message.delete"),
      danger: true,
      action: () => this.confirmDelete(message.id, button),
    });
    this.menu.open(button, entries);
  }

  startEdit(id) {
    this.editingId = id;
    this.render();
    const input = this.nodes.get(`m${id}`)?.querySelector("textarea");
    if (input) {
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    }
  }

  /** Save (`body`) or cancel (null) the edit; focus returns to the message's options. */
  finishEdit(id, body) {
    if (id === null) return;
    this.editingId = null;
    if (body !== null) this.onEdit(id, body);
    this.render();
    this.nodes.get(`m${id}`)?.querySelector(".message-actions")?.focus();
  }

  confirmDelete(id, button) {
    const dialog = this.deleteDialog;
    dialog.returnValue = "";
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue === "delete") {
          this.onDelete(id);
          // The options button goes with the message's content: keep focus in the log.
          const node = this.nodes.get(`m${id}`);
          if (node) {
            node.tabIndex = -1;
            node.focus();
          }
        } else if (button.isConnected) {
          button.focus();
        }
      },
      { once: true },
    );
    dialog.showModal();
  }

  /** Scroll to a message (a search result) and highlight it. */
  reveal(id) {
    this.foundId = id;
    this.render();
    const node = this.nodes.get(`m${id}`);
    if (!node) return false;
    node.tabIndex = -1;
    node.scrollIntoView({ block: "center" });
    node.focus({ preventScroll: true });
    return true;
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
