// The tab's state for one community: conversations, messages (deduplicated by
// id), pending sends (keyed by client_id), unread counts, receipts and typing.
// No DOM and no I/O: methods change the state, tell subscribers, and return
// the frames the caller should send.

export const TYPING_TTL_MS = 5_000;

function sameMembers(a, b) {
  if (a.length !== b.length) return false;
  const sortedA = [...a].sort();
  const sortedB = [...b].sort();
  return sortedA.every((name, index) => name === sortedB[index]);
}

export class UnknownFrameError extends Error {}

export class Store {
  constructor({ me, community, now = () => Date.now(), uuid } = {}) {
    this.me = me;
    this.community = community;
    this.now = now;
    this.uuid = uuid ?? (() => globalThis.crypto.randomUUID());
    this.conversations = new Map();
    this.pending = new Map();
    this.members = new Map();
    this.lastSeenId = 0;
    this.listeners = new Set();
  }

  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change) {
    for (const listener of this.listeners) listener(change);
  }

  // Members and names

  setMembers(list) {
    for (const member of list) {
      this.members.set(member.username, member.display_name || member.username);
    }
    this.emit({ kind: "members" });
  }

  displayName(username) {
    return this.members.get(username) ?? username;
  }

  /** The other participants, as the resident sees them. */
  othersIn(participants) {
    const others = participants.filter((name) => name !== this.me);
    return others.length ? others : participants;
  }

  // Conversations

  ensureConversation(id, participants = []) {
    let conversation = this.conversations.get(id);
    if (!conversation) {
      conversation = {
        id,
        participants: [...participants].sort(),
        lastMessage: null,
        unread: 0,
        // Messages up to this id were already counted by the server's `unread`.
        baselineId: 0,
        readUpTo: 0,
        readMarks: new Map(),
        messages: new Map(),
        oldestHistoryId: null,
        history: "none", // "none" | "loading" | "partial" | "complete"
        typing: new Map(),
      };
      this.conversations.set(id, conversation);
    } else if (!conversation.participants.length && participants.length) {
      conversation.participants = [...participants].sort();
    }
    return conversation;
  }

  loadConversations(list) {
    for (const item of list) {
      const conversation = this.ensureConversation(item.id, item.participants);
      conversation.participants = [...item.participants].sort();
      conversation.unread = item.unread;
      const last = item.last_message;
      if (last) {
        conversation.baselineId = Math.max(conversation.baselineId, last.id);
        if (!conversation.lastMessage || last.id >= conversation.lastMessage.id) {
          conversation.lastMessage = last;
        }
        conversation.messages.set(last.id, last);
        this.lastSeenId = Math.max(this.lastSeenId, last.id);
      }
    }
    this.emit({ kind: "conversations" });
  }

  /** Conversations, most recent first; those without a message last. */
  sortedConversations() {
    return [...this.conversations.values()].sort(
      (a, b) => (b.lastMessage?.id ?? 0) - (a.lastMessage?.id ?? 0) || b.id - a.id,
    );
  }

  /** The existing conversation with exactly these participants, if any. */
  findByParticipants(participants) {
    for (const conversation of this.conversations.values()) {
      if (sameMembers(conversation.participants, participants)) return conversation;
    }
    return null;
  }

  totalUnread() {
    let total = 0;
    for (const conversation of this.conversations.values()) total += conversation.unread;
    return total;
  }

  // Messages

  /**
   * Add a message seen live, by sync or as an ack. Returns true when it is new.
   * Duplicates (same id) change nothing; a message of ours whose client_id is
   * pending resolves that pending entry (its ack may have been lost).
   */
  applyMessage(message, { countUnread = true } = {}) {
    const conversation = this.ensureConversation(
      message.conversation,
      message.participants,
    );
    this.lastSeenId = Math.max(this.lastSeenId, message.id);
    let changedPending = false;
    if (message.sender === this.me && this.pending.has(message.client_id)) {
      this.pending.delete(message.client_id);
      changedPending = true;
    }
    if (conversation.messages.has(message.id)) {
      if (changedPending) this.emit({ kind: "messages", conversation: conversation.id });
      return false;
    }
    conversation.messages.set(message.id, message);
    if (!conversation.lastMessage || message.id > conversation.lastMessage.id) {
      conversation.lastMessage = message;
    }
    conversation.typing.delete(message.sender);
    if (
      countUnread &&
      message.sender !== this.me &&
      message.id > conversation.baselineId &&
      message.id > conversation.readUpTo
    ) {
      conversation.unread += 1;
    }
    this.emit({ kind: "messages", conversation: conversation.id });
    return true;
  }

  /** A page of history (newest first, as the API answers). */
  loadHistory(conversationId, page, limit) {
    const conversation = this.ensureConversation(conversationId);
    for (const message of page) {
      if (!conversation.participants.length) {
        conversation.participants = [...message.participants].sort();
      }
      if (!conversation.messages.has(message.id)) {
        conversation.messages.set(message.id, message);
      }
      if (!conversation.lastMessage || message.id > conversation.lastMessage.id) {
        conversation.lastMessage = message;
      }
      if (conversation.oldestHistoryId === null || message.id < conversation.oldestHistoryId) {
        conversation.oldestHistoryId = message.id;
      }
    }
    conversation.history = page.length < limit ? "complete" : "partial";
    this.emit({ kind: "messages", conversation: conversationId, history: true });
  }

  /** Messages of a conversation in id order. */
  messagesOf(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return [];
    return [...conversation.messages.values()].sort((a, b) => a.id - b.id);
  }

  // Reading

  /** Our own read mark moved (here or in another tab). */
  markRead(conversationId, upTo) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    conversation.readUpTo = Math.max(conversation.readUpTo, upTo);
    const lastId = conversation.lastMessage?.id ?? 0;
    if (conversation.readUpTo >= lastId) {
      conversation.unread = 0;
    } else {
      const covered =
        conversation.history === "complete" ||
        (conversation.oldestHistoryId !== null &&
          conversation.oldestHistoryId <= conversation.readUpTo);
      if (covered) {
        let left = 0;
        for (const message of conversation.messages.values()) {
          if (message.sender !== this.me && message.id > conversation.readUpTo) left += 1;
        }
        conversation.unread = Math.min(conversation.unread, left);
      }
    }
    this.emit({ kind: "conversations" });
  }

  /**
   * The `message.read` frame to send for a conversation the resident is
   * looking at, or null when nothing from others is unread.
   */
  readFrame(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation?.lastMessage) return null;
    const upTo = conversation.lastMessage.id;
    let unseen = conversation.unread > 0;
    if (!unseen) {
      for (const message of conversation.messages.values()) {
        if (message.sender !== this.me && message.id > conversation.readUpTo) {
          unseen = true;
          break;
        }
      }
    }
    if (!unseen) return null;
    this.markRead(conversationId, upTo);
    return { type: "message.read", conversation: conversationId, up_to: upTo };
  }

  applyReceipt({ conversation: conversationId, user, up_to: upTo }) {
    if (user === this.me) {
      this.markRead(conversationId, upTo);
      return;
    }
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    const previous = conversation.readMarks.get(user) ?? 0;
    if (upTo <= previous) return;
    conversation.readMarks.set(user, upTo);
    this.emit({ kind: "receipts", conversation: conversationId });
  }

  /**
   * Who has read our latest message in a conversation:
   * `{ messageId, readers, everyone }`, or null when nobody has yet.
   */
  readStatus(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return null;
    let mine = null;
    for (const message of conversation.messages.values()) {
      if (message.sender === this.me && (!mine || message.id > mine.id)) mine = message;
    }
    if (!mine) return null;
    const others = conversation.participants.filter((name) => name !== this.me);
    const readers = others.filter(
      (name) => (conversation.readMarks.get(name) ?? 0) >= mine.id,
    );
    if (!readers.length) return null;
    return { messageId: mine.id, readers, everyone: readers.length === others.length };
  }

  // Typing

  applyTyping({ conversation: conversationId, user }) {
    if (user === this.me) return;
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    conversation.typing.set(user, this.now() + TYPING_TTL_MS);
    this.emit({ kind: "typing", conversation: conversationId });
  }

  /** Who is typing now; expired entries are dropped. */
  typingIn(conversationId) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return [];
    const now = this.now();
    const names = [];
    for (const [user, expires] of conversation.typing) {
      if (expires > now) names.push(user);
      else conversation.typing.delete(user);
    }
    return names.sort();
  }

  // Sending

  static sendFrame(item) {
    const frame = { type: "message.send", client_id: item.clientId, body: item.body };
    if (item.conversation !== null) frame.conversation = item.conversation;
    else frame.to = [...item.to];
    return frame;
  }

  /**
   * Queue a message (optimistic: shown at once as pending) and return the
   * frame to send. Exactly one of `conversation` or `to`.
   */
  send({ body, conversation = null, to = null }) {
    const item = {
      clientId: this.uuid(),
      body,
      conversation,
      to: to ? [...to].sort() : null,
      status: "pending",
      error: null,
      createdAt: this.now(),
    };
    this.pending.set(item.clientId, item);
    this.emit({ kind: "pending", conversation });
    return Store.sendFrame(item);
  }

  /** Frames to resend after a reconnect: same client_id, so the server dedups. */
  resendFrames() {
    return [...this.pending.values()]
      .filter((item) => item.status === "pending")
      .map((item) => Store.sendFrame(item));
  }

  retry(clientId) {
    const item = this.pending.get(clientId);
    if (!item) return null;
    item.status = "pending";
    item.error = null;
    this.emit({ kind: "pending", conversation: item.conversation });
    return Store.sendFrame(item);
  }

  fail(clientId, code) {
    const item = this.pending.get(clientId);
    if (!item) return false;
    item.status = "failed";
    item.error = code;
    this.emit({ kind: "pending", conversation: item.conversation });
    return true;
  }

  /** Pending sends shown in a conversation (or a draft with these participants). */
  pendingFor({ conversation = null, participants = null }) {
    const known = conversation !== null ? this.conversations.get(conversation) : null;
    const members = participants ?? known?.participants ?? null;
    return [...this.pending.values()].filter((item) => {
      if (conversation !== null && item.conversation === conversation) return true;
      return (
        item.to !== null && members !== null && sameMembers([this.me, ...item.to], members)
      );
    });
  }

  // Frames

  syncFrame() {
    return { type: "sync", after: this.lastSeenId };
  }

  /**
   * Apply one server frame. Returns `{ send, resolved, error, synced, fresh }`:
   * frames to send next, a draft that became a conversation, an error to show,
   * whether a sync finished, and the messages that are new to this tab.
   */
  applyFrame(frame) {
    const result = { send: [], resolved: null, error: null, synced: false, fresh: [] };
    switch (frame.type) {
      case "message.ack": {
        const item = this.pending.get(frame.client_id);
        this.applyMessage(frame.message, { countUnread: false });
        if (item && item.conversation === null) {
          result.resolved = {
            clientId: frame.client_id,
            conversation: frame.message.conversation,
          };
        }
        break;
      }
      case "message.new":
        if (this.applyMessage(frame.message)) result.fresh.push(frame.message);
        break;
      case "receipt":
        this.applyReceipt(frame);
        break;
      case "typing":
        this.applyTyping(frame);
        break;
      case "sync.batch": {
        for (const message of frame.messages) {
          if (this.applyMessage(message)) result.fresh.push(message);
        }
        const last = frame.messages.at(-1);
        if (frame.more && last) result.send.push({ type: "sync", after: last.id });
        else result.synced = true;
        break;
      }
      case "pong":
        break;
      case "error":
        if (!(frame.client_id && this.fail(frame.client_id, frame.code))) {
          result.error = frame;
        }
        break;
      default:
        throw new UnknownFrameError(`unknown frame type: ${String(frame.type)}`);
    }
    return result;
  }
}
