// The resident's sends that the server has not acknowledged yet, keyed by
// client_id. Each change is written through to an outbox (IndexedDB in the
// page, see outbox.js) so that a reload or a browser restart resends them
// with the same client_id: the server answers a repeated client_id with the
// same message, and the store drops the pending copy as soon as that message
// shows up by any road (ack, sync, history, conversation list).

const NO_OUTBOX = { put: () => {}, delete: () => {} };

export class PendingSends {
  constructor({ me, community, now, uuid, outbox = NO_OUTBOX }) {
    this.me = me;
    this.community = community;
    this.now = now;
    this.uuid = uuid;
    this.outbox = outbox;
    this.items = new Map();
  }

  get size() {
    return this.items.size;
  }

  get(clientId) {
    return this.items.get(clientId);
  }

  values() {
    return this.items.values();
  }

  static frame(item) {
    const frame = { type: "message.send", client_id: item.clientId, body: item.body };
    if (item.conversation !== null) frame.conversation = item.conversation;
    else frame.to = [...item.to];
    if (item.attachments?.length) frame.attachments = item.attachments.map((a) => a.id);
    return frame;
  }

  /** A new send; `attachments` are the uploaded attachment objects. */
  add({ body, conversation = null, to = null, attachments = [] }) {
    const item = {
      clientId: this.uuid(),
      me: this.me,
      community: this.community,
      body,
      conversation,
      to: to ? [...to].sort() : null,
      attachments: [...attachments],
      status: "pending",
      error: null,
      createdAt: this.now(),
    };
    this.items.set(item.clientId, item);
    this.outbox.put(item);
    return item;
  }

  /** Sends kept by an earlier page of this resident in this community. */
  restore(items) {
    const restored = [];
    for (const item of items) {
      if (item.me !== this.me || item.community !== this.community) continue;
      if (this.items.has(item.clientId)) continue;
      this.items.set(item.clientId, { ...item, attachments: item.attachments ?? [] });
      restored.push(item);
    }
    return restored;
  }

  setStatus(clientId, status, error = null) {
    const item = this.items.get(clientId);
    if (!item) return null;
    item.status = status;
    item.error = error;
    this.outbox.put(item);
    return item;
  }

  /** Forget a send the server has stored. Returns the item, if it was pending. */
  resolve(clientId) {
    const item = this.items.get(clientId);
    if (!item) return null;
    this.items.delete(clientId);
    this.outbox.delete(clientId);
    return item;
  }

  /** Frames to resend after a (re)connection, oldest first. */
  resendFrames() {
    return [...this.items.values()]
      .filter((item) => item.status === "pending")
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((item) => PendingSends.frame(item));
  }
}
