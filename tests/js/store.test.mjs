import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";

import { Store, TYPING_TTL_MS, UnknownFrameError } from "../../frontend/js/store.js";

let clock;


function makeStore(me = "alice") {
  let n = 0;
  return new Store({
    me,
    community: "bourg-centre",
    now: () => clock,
    uuid: () => `client-${++n}`,
  });
}

function msg(id, { conversation = 3, sender = "bob", participants, clientId, rev } = {}) {
  return {
    id,
    conversation,
    community: "bourg-centre",
    sender,
    participants: participants ?? ["alice", "bob"],
    body: `message ${id}`,
    sent_at: "2026-11-26T09:14:03.512Z",
    client_id: clientId ?? `${sender}-${id}`,
    rev: rev ?? id,
    edited_at: null,
    deleted: false,
    attachments: [],
  };
}

beforeEach(() => {
  clock = 1_000_000;

});

describe("frames", () => {
  it("rejects unknown frame types", () => {
    const store = makeStore();
    assert.throws(() => store.applyFrame({ type: "message.delete" }), UnknownFrameError);
  });

  it("shows a new message at once and deduplicates it by id", () => {
    const store = makeStore();
    const first = store.applyFrame({ type: "message.new", message: msg(10) });
    const again = store.applyFrame({ type: "message.new", message: msg(10) });
    assert.deepEqual(first.fresh.map((m) => m.id), [10]);
    assert.deepEqual(again.fresh, []);
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [10]);
    assert.equal(store.conversations.get(3).unread, 1);
  });

  it("keeps messages in id order whatever the arrival order", () => {
    const store = makeStore();
    for (const id of [12, 10, 11]) store.applyFrame({ type: "message.new", message: msg(id) });
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [10, 11, 12]);
    assert.equal(store.lastSeenId, 12);
  });

  it("answers pong with nothing", () => {
    const store = makeStore();
    assert.deepEqual(store.applyFrame({ type: "pong" }).send, []);
  });
});

describe("sending", () => {
  it("is optimistic: pending until the ack, then a message", () => {
    const store = makeStore();
    const frame = store.send({ body: "Salut", conversation: 3 });
    assert.deepEqual(frame, {
      type: "message.send",
      client_id: "client-1",
      body: "Salut",
      conversation: 3,
    });
    assert.equal(store.pendingFor({ conversation: 3 }).length, 1);
    const ack = msg(20, { sender: "alice", clientId: "client-1" });
    store.applyFrame({ type: "message.ack", client_id: "client-1", message: ack });
    assert.equal(store.pending.size, 0);
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [20]);
    assert.equal(store.conversations.get(3).unread, 0, "our own message is not unread");
  });

  it("marks a send failed on an error with its client_id, and retries with the same id", () => {
    const store = makeStore();
    store.send({ body: "Salut", conversation: 3 });
    const result = store.applyFrame({
      type: "error",
      code: "rate_limited",
      detail: "slow down",
      client_id: "client-1",
    });
    assert.equal(result.error, null, "handled as the send's failure");
    assert.equal(store.pending.get("client-1").status, "failed");
    assert.deepEqual(store.resendFrames(), [], "failed sends wait for the resident");
    const retry = store.retry("client-1");
    assert.equal(retry.client_id, "client-1");
    assert.equal(store.pending.get("client-1").status, "pending");
  });

  it("passes errors that answer no send on to the caller", () => {
    const store = makeStore();
    const frame = { type: "error", code: "not_found", detail: "No such conversation." };
    assert.deepEqual(store.applyFrame(frame).error, frame);
  });

  it("resends every pending message after a reconnect with the same client_id", () => {
    const store = makeStore();
    store.send({ body: "un", conversation: 3 });
    clock += 1;
    store.send({ body: "deux", to: ["carol", "bob"] });
    assert.deepEqual(store.resendFrames(), [
      { type: "message.send", client_id: "client-1", body: "un", conversation: 3 },
      { type: "message.send", client_id: "client-2", body: "deux", to: ["bob", "carol"] },
    ]);
    assert.deepEqual(
      store.resendFrames().map((f) => f.client_id),
      ["client-1", "client-2"],
      "resending twice keeps the ids",
    );
  });

  it("resolves a pending send seen through sync (its ack was lost)", () => {
    const store = makeStore();
    store.send({ body: "Salut", conversation: 3 });
    const stored = msg(30, { sender: "alice", clientId: "client-1" });
    store.applyFrame({ type: "sync.batch", messages: [stored], more: false });
    assert.equal(store.pending.size, 0);
    assert.deepEqual(store.resendFrames(), []);
    // The late ack of the resend changes nothing.
    store.applyFrame({ type: "message.ack", client_id: "client-1", message: stored });
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [30]);
  });

  it("reports the conversation a first message to new recipients created", () => {
    const store = makeStore();
    store.send({ body: "Bonjour", to: ["david"] });
    assert.equal(store.pendingFor({ participants: ["alice", "david"] }).length, 1);
    const ack = msg(40, {
      conversation: 9,
      sender: "alice",
      participants: ["alice", "david"],
      clientId: "client-1",
    });
    const result = store.applyFrame({ type: "message.ack", client_id: "client-1", message: ack });
    assert.deepEqual(result.resolved, { clientId: "client-1", conversation: 9 });
    assert.deepEqual(store.findByParticipants(["david", "alice"]).id, 9);
  });
});

describe("unread counting", () => {
  it("starts from the server's counts and does not count them twice", () => {
    const store = makeStore();
    store.loadConversations([
      { id: 3, participants: ["alice", "bob"], last_message: msg(10), unread: 2 },
    ]);
    store.applyFrame({ type: "sync.batch", messages: [msg(9), msg(10)], more: false });
    assert.equal(store.conversations.get(3).unread, 2);
    store.applyFrame({ type: "message.new", message: msg(11) });
    assert.equal(store.conversations.get(3).unread, 3);
    assert.equal(store.totalUnread(), 3);
  });

  it("counts only others' messages, across conversations", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(1) });
    store.applyFrame({ type: "message.new", message: msg(2, { sender: "alice" }) });
    const group = ["alice", "bob", "carol"];
    store.applyFrame({
      type: "message.new",
      message: msg(3, { conversation: 4, sender: "carol", participants: group }),
    });
    assert.equal(store.conversations.get(3).unread, 1);
    assert.equal(store.conversations.get(4).unread, 1);
    assert.equal(store.totalUnread(), 2);
  });

  it("reading sends message.read up to the last message, once", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(5) });
    store.applyFrame({ type: "message.new", message: msg(6) });
    assert.deepEqual(store.readFrame(3), { type: "message.read", conversation: 3, up_to: 6 });
    assert.equal(store.conversations.get(3).unread, 0);
    assert.equal(store.readFrame(3), null);
    store.applyFrame({ type: "message.new", message: msg(7) });
    assert.deepEqual(store.readFrame(3).up_to, 7);
  });

  it("follows our own receipts from another tab", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(5) });
    store.applyFrame({ type: "receipt", conversation: 3, user: "alice", up_to: 5 });
    assert.equal(store.conversations.get(3).unread, 0);
    store.applyFrame({ type: "message.new", message: msg(4) });
    assert.equal(store.conversations.get(3).unread, 0, "older than our read mark");
  });
});

describe("receipts", () => {
  it("says who read our latest message", () => {
    const store = makeStore();
    const group = ["alice", "bob", "carol"];
    const mine = msg(8, { conversation: 4, sender: "alice", participants: group });
    store.applyFrame({ type: "message.new", message: mine });
    assert.equal(store.readStatus(4), null);
    store.applyFrame({ type: "receipt", conversation: 4, user: "bob", up_to: 8 });
    assert.deepEqual(store.readStatus(4), { messageId: 8, readers: ["bob"], everyone: false });
    store.applyFrame({ type: "receipt", conversation: 4, user: "carol", up_to: 9 });
    assert.equal(store.readStatus(4).everyone, true);
  });
});

describe("typing", () => {
  it("expires after a few seconds and ends with the typist's message", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(1) });
    store.applyFrame({ type: "typing", conversation: 3, user: "bob" });
    assert.deepEqual(store.typingIn(3), ["bob"]);
    clock += TYPING_TTL_MS + 1;
    assert.deepEqual(store.typingIn(3), []);
    store.applyFrame({ type: "typing", conversation: 3, user: "bob" });
    store.applyFrame({ type: "message.new", message: msg(2) });
    assert.deepEqual(store.typingIn(3), []);
  });

  it("ignores our own typing", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(1) });
    store.applyFrame({ type: "typing", conversation: 3, user: "alice" });
    assert.deepEqual(store.typingIn(3), []);
  });
});

describe("sync", () => {
  it("asks from the last id and the highest rev seen", () => {
    const store = makeStore();
    assert.deepEqual(store.syncFrame(), { type: "sync", after: 0, since_rev: 0 });
    store.loadConversations([
      { id: 3, participants: ["alice", "bob"], last_message: msg(41, { rev: 57 }), unread: 0 },
    ]);
    assert.deepEqual(store.syncFrame(), { type: "sync", after: 41, since_rev: 57 });
  });

  it("starts from the cursor an earlier page persisted", () => {
    const store = new Store({ me: "alice", community: "c", cursor: { lastId: 80, maxRev: 95 } });
    assert.deepEqual(store.syncFrame(), { type: "sync", after: 80, since_rev: 95 });
    store.applyFrame({ type: "message.new", message: msg(96) });
    assert.deepEqual(store.cursor(), { lastId: 96, maxRev: 96 });
  });

  it("pages while more is true, from the last id and rev of each batch", () => {
    const store = makeStore();
    store.syncFrame();
    const first = store.applyFrame({
      type: "sync.batch",
      messages: [msg(1), msg(2)],
      more: true,
    });
    assert.deepEqual(first.send, [{ type: "sync", after: 2, since_rev: 2 }]);
    assert.equal(first.synced, false);
    // A live message meanwhile does not move the next page past 3.
    store.applyFrame({ type: "message.new", message: msg(9) });
    const second = store.applyFrame({ type: "sync.batch", messages: [msg(3)], more: true });
    assert.deepEqual(second.send, [{ type: "sync", after: 3, since_rev: 3 }]);
    const last = store.applyFrame({ type: "sync.batch", messages: [msg(4)], more: false });
    assert.deepEqual(last.send, []);
    assert.equal(last.synced, true);
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [1, 2, 3, 4, 9]);
    assert.deepEqual(store.syncFrame(), { type: "sync", after: 9, since_rev: 9 });
  });

  it("applies the edits and deletions it missed, and pages through them", () => {
    const store = makeStore();
    store.loadHistory(3, [msg(6), msg(5)], 50);
    store.syncFrame();
    const edited = { ...msg(5, { rev: 30 }), body: "corrigé", edited_at: "2026-11-26T09:20:00.000Z" };
    const first = store.applyFrame({
      type: "sync.batch",
      messages: [],
      changed: [edited],
      more: true,
    });
    assert.deepEqual(first.send, [{ type: "sync", after: 6, since_rev: 30 }]);
    const gone = { ...msg(6, { rev: 31 }), body: "", deleted: true };
    store.applyFrame({ type: "sync.batch", messages: [], changed: [gone], more: false });
    assert.deepEqual(
      store.messagesOf(3).map((m) => [m.id, m.body, m.deleted]),
      [
        [5, "corrigé", false],
        [6, "", true],
      ],
    );
    assert.equal(store.conversations.get(3).lastMessage.deleted, true);
  });

  it("stops on an empty batch even if it claims more", () => {
    const store = makeStore();
    const result = store.applyFrame({ type: "sync.batch", messages: [], more: true });
    assert.deepEqual(result.send, []);
  });
});

describe("history", () => {
  it("loads older pages without counting them unread", () => {
    const store = makeStore();
    const page = [msg(50), msg(49), msg(48)];
    store.loadHistory(3, page, 3);
    assert.equal(store.conversations.get(3).history, "partial");
    assert.equal(store.conversations.get(3).oldestHistoryId, 48);
    store.loadHistory(3, [msg(47)], 3);
    assert.equal(store.conversations.get(3).history, "complete");
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [47, 48, 49, 50]);
    assert.equal(store.conversations.get(3).unread, 0);
  });
});

describe("edits and deletions", () => {
  it("replaces a message by a newer rev, never by an older one", () => {
    const store = makeStore();
    store.applyFrame({ type: "message.new", message: msg(10) });
    const edited = { ...msg(10, { rev: 12 }), body: "nouveau", edited_at: "2026-11-26T09:15:00.000Z" };
    store.applyFrame({ type: "message.updated", message: edited });
    store.applyFrame({ type: "message.new", message: msg(10) });
    assert.equal(store.messagesOf(3)[0].body, "nouveau");
    assert.equal(store.conversations.get(3).unread, 1, "an edit is not a new message");
    assert.equal(store.maxRev, 12);
  });

  it("ignores an update of a message this tab never loaded, but keeps its rev", () => {
    const store = makeStore();
    const result = store.applyFrame({ type: "message.updated", message: msg(4, { rev: 50 }) });
    assert.deepEqual(result.fresh, []);
    assert.equal(store.conversations.size, 0);
    assert.equal(store.maxRev, 50);
  });

  it("lets the sender edit within the window only", () => {
    const store = makeStore();
    const mine = msg(10, { sender: "alice" });
    clock = Date.parse(mine.sent_at) + 899_000;
    assert.equal(store.canEdit(mine, 900), true);
    clock += 2_000;
    assert.equal(store.canEdit(mine, 900), false);
    assert.equal(store.canEdit(msg(11), 900), false, "not ours");
    assert.equal(store.canEdit({ ...mine, deleted: true }, 10_000), false);
  });
});

describe("conversation list facts", () => {
  it("restores mute and everyone's read marks after a reload", () => {
    const store = makeStore();
    store.loadConversations([
      {
        id: 3,
        participants: ["alice", "bob"],
        last_message: msg(12, { sender: "alice" }),
        unread: 0,
        muted: true,
        read_marks: { alice: 12, bob: 12 },
      },
    ]);
    assert.equal(store.conversations.get(3).muted, true);
    assert.deepEqual(store.readStatus(3), { messageId: 12, readers: ["bob"], everyone: true });
    store.applySummary({ id: 3, muted: false });
    assert.equal(store.conversations.get(3).muted, false);
  });
});

describe("pending sends across reloads", () => {
  function memoryOutbox() {
    const rows = new Map();
    return { rows, put: (item) => rows.set(item.clientId, { ...item }), delete: (id) => rows.delete(id) };
  }

  it("writes each pending send through to the outbox and removes it on ack", () => {
    const outbox = memoryOutbox();
    const store = new Store({ me: "alice", community: "c", outbox, uuid: () => "k1", now: () => 5 });
    store.send({ body: "", conversation: 3, attachments: [{ id: 55, name: "chat.jpg" }] });
    assert.deepEqual([...outbox.rows.keys()], ["k1"]);
    assert.deepEqual(store.resendFrames(), [
      { type: "message.send", client_id: "k1", body: "", conversation: 3, attachments: [55] },
    ]);
    const stored = msg(20, { sender: "alice", clientId: "k1" });
    store.applyFrame({ type: "message.ack", client_id: "k1", message: stored, messages: [stored] });
    assert.equal(outbox.rows.size, 0);
  });

  it("restores another page's sends once, and drops those the server already has", () => {
    const first = makeStore();
    first.send({ body: "un", conversation: 3 });
    first.send({ body: "deux", conversation: 3 });
    const kept = [...first.pending.values()].map((item) => ({ ...item }));
    const outbox = memoryOutbox();
    const store = new Store({ me: "alice", community: "bourg-centre", outbox });
    store.restorePending([...kept, ...kept, { ...kept[0], me: "bob", clientId: "x" }]);
    assert.equal(store.pending.size, 2, "each once, and only this resident's");
    // The first reached the server before the reload: the list shows it.
    store.loadConversations([
      {
        id: 3,
        participants: ["alice", "bob"],
        last_message: msg(30, { sender: "alice", clientId: "client-1" }),
        unread: 0,
      },
    ]);
    assert.deepEqual(store.resendFrames().map((f) => f.client_id), ["client-2"]);
    // History brings the same message: still one bubble.
    store.loadHistory(3, [msg(30, { sender: "alice", clientId: "client-1" })], 50);
    assert.equal(store.pendingFor({ conversation: 3 }).length, 1);
    assert.deepEqual(store.messagesOf(3).map((m) => m.id), [30]);
  });
});
