// Read marks, receipts and typing: methods of the Store (store.js mixes them
// in), apart so that each file stays readable. `this` is the Store.

export const TYPING_TTL_MS = 5_000;

export const readingMethods = {
  /** Read marks after a reload: ours is our read position, the others' say "Lu". */
  applyReadMarks(conversation, marks) {
    for (const [user, upTo] of Object.entries(marks)) {
      if (user === this.me) {
        conversation.readUpTo = Math.max(conversation.readUpTo, upTo);
      } else if (upTo > (conversation.readMarks.get(user) ?? 0)) {
        conversation.readMarks.set(user, upTo);
      }
    }
  },

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
  },

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
  },

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
  },

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
  },

  applyTyping({ conversation: conversationId, user }) {
    if (user === this.me) return;
    const conversation = this.conversations.get(conversationId);
    if (!conversation) return;
    conversation.typing.set(user, this.now() + TYPING_TTL_MS);
    this.emit({ kind: "typing", conversation: conversationId });
  },

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
  },
};
