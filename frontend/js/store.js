// The tab's state for one community: conversations, messages (deduplicated by
// id, replaced by newer revs), pending sends (pending.js), unread counts,
// receipts, mutes and typing. No DOM and no I/O: methods change the state,
// tell subscribers, and return the frames the caller should send.

import { PendingSends } from "./pending.js";
import { readingMethods, TYPING_TTL_MS } from "./reading.js";

export { TYPING_TTL_MS };

const revOf = (message) => message.rev ?? message.id;

function sameMembers(a, b) {
  if (a.length !== b.length) return false;
  const sortedA = [...a].sort();
  const sortedB = [...b].sort();
  return sortedA.every((name, index) => name === sortedB[index]);
}

export class UnknownFrameError extends Error {}

export class Store {
  /**
   * `cursor`: the `{ lastId, maxRev }` an earlier page of this resident
   * reached in this community; `outbox`: where pending sends are kept.
   */
  constructor({ me, community, now = () => Date.now(), uuid, cursor, outbox } = {}) {
    this.me = me;
    this.community = community;
    this.now = now;
    this.uuid = uuid ?? (() => globalThis.crypto.randomUUID());
    this.conversations = new Map();
    this.pending = new PendingSends({ me, community, now, uuid: this.uuid, outbox });
    this.members = new Map();
    this.lastSeenId = cursor?.lastId ?? 0;
    this.maxRev = cursor?.maxRev ?? 0;
    // The sync in progress: where the next page starts (see syncFrame).
    this.syncing = null;
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
        muted: false,
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

  /** The conversation list (GET .../conversations/), e.g. after a reload. */
  loadConversations(list) {
    for (const item of list) {
      const conversation = this.ensureConversation(item.id, item.participants);
      conversation.participants = [...item.participants].sort();
      conversation.unread = item.unread;
      conversation.muted = Boolean(item.muted);
      this.applyReadMarks(conversation, item.read_marks ?? {});
      const last = item.last_message;
      if (last) {
        conversation.baselineId = Math.max(conversation.baselineId, last.id);
        this.keepMessage(conversation, last);
        this.resolvePending(last);
      }
    }
    this.emit({ kind: "conversations" });
  }

  /** A conversation summary the API answered (PATCH: mute). */
  applySummary(item) {
    const conversation = this.conversations.get(item.id);
    if (!conversation) return;
    conversation.muted = Boolean(item.muted);
    this.emit({ kind: "conversations", conversation: item.id });
  }

  /**
   * Store `message` unless a newer rev of it is there; keep `lastMessage`
   * and the cursors up to date. Returns true when the message was stored.
   */
  keepMessage(conversation, message) {
    this.lastSeenId = Math.max(this.lastSeenId, message.id);
    this.maxRev = Math.max(this.maxRev, revOf(message));
    const known = conversation.messages.get(message.id);
    if (known && revOf(known) >= revOf(message)) return false;
    conversation.messages.set(message.id, message);
    if (!conversation.lastMessage || message.id >= conversation.lastMessage.id) {
      conversation.lastMessage = message;
    }
    return true;
  }

  /** Our message reached the server: its pending copy goes. */
  resolvePending(message) {
    if (message.sender !== this.me) return false;
    return this.pending.resolve(message.client_id) !== null;
  }

  /** Where sync resumes after a reload: persisted by the caller. */
  cursor() {
    return { lastId: this.lastSeenId, maxRev: this.maxRev };
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
    const changedPending = this.resolvePending(message);
    const known = conversation.messages.has(message.id);
    const stored = this.keepMessage(conversation, message);
    if (known) {
      if (changedPending || stored) {
        this.emit({ kind: "messages", conversation: conversation.id });
      }
      return false;
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

  /**
   * An edit or a deletion (`message.updated`, sync's `changed`): the newer
   * rev replaces what is shown. A message this tab never loaded is left for
   * the history page that will bring it in its current state.
   */
  applyUpdate(message) {
    this.maxRev = Math.max(this.maxRev, revOf(message));
    const conversation = this.conversations.get(message.conversation);
    if (!conversation?.messages.has(message.id)) return false;
    if (!this.keepMessage(conversation, message)) return false;
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
      this.keepMessage(conversation, message);
      this.resolvePending(message);
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

  // Sending

  /**
   * Queue a message (optimistic: shown at once as pending) and return the
   * frame to send. Exactly one of `conversation` or `to`; `attachments` are
   * uploaded attachment objects.
   */
  send({ body, conversation = null, to = null, attachments = [] }) {
    const item = this.pending.add({ body, conversation, to, attachments });
    this.emit({ kind: "pending", conversation });
    return PendingSends.frame(item);
  }

  /** Sends an earlier page kept (outbox): shown as pending, resent on open. */
  restorePending(items) {
    if (this.pending.restore(items).length) this.emit({ kind: "pending" });
  }

  /** Frames to resend after a reconnect: same client_id, so the server dedups. */
  resendFrames() {
    return this.pending.resendFrames();
  }

  retry(clientId) {
    const item = this.pending.setStatus(clientId, "pending");
    if (!item) return null;
    this.emit({ kind: "pending", conversation: item.conversation });
    return PendingSends.frame(item);
  }

  fail(clientId, code) {
    const item = this.pending.setStatus(clientId, "failed", code);
    if (!item) return false;
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

  // Editing

  /** Whether the resident may still edit this message (its sender, in the window). */
  canEdit(message, windowSeconds) {
    if (message.sender !== this.me || message.deleted) return false;
    return this.now() - Date.parse(message.sent_at) < windowSeconds * 1000;
  }

  // Frames

  /**
   * The first `sync` after a (re)connection: new messages after the last id
   * seen, and edits and deletions past the highest rev seen.
   */
  syncFrame() {
    this.syncing = { after: this.lastSeenId, sinceRev: this.maxRev };
    return { type: "sync", after: this.lastSeenId, since_rev: this.maxRev };
  }

  /**
   * The next page of a sync, from this batch's own cursors: a live message
   * that arrived meanwhile must not make the next page skip what lies before it.
   */
  applySyncBatch(frame, result) {
    const cursor = this.syncing ?? { after: this.lastSeenId, sinceRev: this.maxRev };
    for (const message of frame.messages) {
      if (this.applyMessage(message)) result.fresh.push(message);
      cursor.after = Math.max(cursor.after, message.id);
      cursor.sinceRev = Math.max(cursor.sinceRev, revOf(message));
    }
    for (const message of frame.changed ?? []) {
      this.applyUpdate(message);
      this.resolvePending(message);
      cursor.sinceRev = Math.max(cursor.sinceRev, revOf(message));
    }
    const progressed = frame.messages.length > 0 || (frame.changed ?? []).length > 0;
    if (frame.more && progressed) {
      this.syncing = cursor;
      result.send.push({ type: "sync", after: cursor.after, since_rev: cursor.sinceRev });
    } else {
      this.syncing = null;
      result.synced = true;
    }
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
        // `messages`: one per copy of a `separate` send; `message` is the first.
        for (const message of frame.messages ?? [frame.message]) {
          this.applyMessage(message, { countUnread: false });
        }
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
      case "message.updated":
        this.applyUpdate(frame.message);
        break;
      case "receipt":
        this.applyReceipt(frame);
        break;
      case "typing":
        this.applyTyping(frame);
        break;
      case "sync.batch":
        this.applySyncBatch(frame, result);
        break;
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

Object.assign(Store.prototype, readingMethods);
