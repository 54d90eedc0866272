import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  BACKOFF_BASE_MS,
  BACKOFF_CAP_MS,
  Connection,
  backoffDelay,
  parseServerFrame,
  socketUrl,
} from "../../frontend/js/socket.js";

const message = {
  id: 7,
  conversation: 3,
  community: "bourg-centre",
  sender: "bob",
  participants: ["alice", "bob"],
  body: "Salut",
  sent_at: "2026-11-26T09:14:03.512Z",
  client_id: "c1",
};

describe("parseServerFrame", () => {
  it("accepts every frame type of the contract", () => {
    const frames = [
      { type: "message.ack", client_id: "c1", message },
      { type: "message.ack", client_id: "c1", message, messages: [message] },
      { type: "message.new", message },
      { type: "message.updated", message: { ...message, rev: 9, deleted: true, body: "" } },
      { type: "receipt", conversation: 3, user: "bob", up_to: 7 },
      { type: "typing", conversation: 3, user: "bob" },
      { type: "sync.batch", messages: [message], more: false },
      { type: "sync.batch", messages: [], more: true, changed: [message] },
      { type: "pong" },
      { type: "error", code: "not_found", detail: "No such conversation." },
    ];
    for (const frame of frames) {
      assert.deepEqual(parseServerFrame(JSON.stringify(frame)), { frame });
    }
  });

  it("rejects unknown types instead of guessing", () => {
    assert.deepEqual(parseServerFrame('{"type": "message.delete", "id": 1}'), {
      error: "unknown_type",
    });
    assert.deepEqual(parseServerFrame('{"id": 1}'), { error: "unknown_type" });
  });

  it("rejects v2 frames whose message lists are not messages", () => {
    const bad = [
      { type: "message.updated", message: { id: 1 } },
      { type: "sync.batch", messages: [], more: false, changed: [{ id: 1 }] },
      { type: "message.ack", client_id: "c1", message, messages: "all" },
    ];
    for (const frame of bad) {
      assert.deepEqual(parseServerFrame(JSON.stringify(frame)), { error: "malformed" });
    }
  });

  it("rejects invalid JSON and non-objects", () => {
    assert.deepEqual(parseServerFrame("{nope"), { error: "invalid_json" });
    assert.deepEqual(parseServerFrame("[1, 2]"), { error: "not_object" });
    assert.deepEqual(parseServerFrame("null"), { error: "not_object" });
  });

  it("rejects known types with missing or mistyped fields", () => {
    assert.deepEqual(parseServerFrame('{"type": "message.new"}'), { error: "malformed" });
    const bad = { type: "receipt", conversation: "3", user: "bob", up_to: 7 };
    assert.deepEqual(parseServerFrame(JSON.stringify(bad)), { error: "malformed" });
    const batch = { type: "sync.batch", messages: [{ id: 1 }], more: false };
    assert.deepEqual(parseServerFrame(JSON.stringify(batch)), { error: "malformed" });
  });
});

describe("backoffDelay", () => {
  it("grows exponentially from the base", () => {
    const top = (attempt) => backoffDelay(attempt, { random: () => 1 });
    assert.equal(top(0), BACKOFF_BASE_MS);
    assert.equal(top(1), BACKOFF_BASE_MS * 2);
    assert.equal(top(3), BACKOFF_BASE_MS * 8);
  });

  it("is capped", () => {
    for (const attempt of [10, 20, 100, 5000]) {
      assert.ok(backoffDelay(attempt, { random: () => 1 }) <= BACKOFF_CAP_MS);
    }
    assert.equal(backoffDelay(50, { random: () => 1 }), BACKOFF_CAP_MS);
  });

  it("is jittered between half and all of the ceiling", () => {
    assert.equal(backoffDelay(4, { random: () => 0 }), (BACKOFF_BASE_MS * 16) / 2);
    const seen = new Set();
    for (let i = 0; i < 50; i += 1) {
      const delay = backoffDelay(5);
      assert.ok(delay >= (BACKOFF_BASE_MS * 32) / 2 && delay <= BACKOFF_BASE_MS * 32);
      seen.add(delay);
    }
    assert.ok(seen.size > 1, "random jitter spreads reconnections");
  });
});

describe("socketUrl", () => {
  it("follows the page's scheme and host", () => {
    assert.equal(
      socketUrl({ protocol: "https:", host: "voisins.example" }, "bourg-centre"),
      "wss://voisins.example/ws/communities/bourg-centre/",
    );
    assert.equal(
      socketUrl({ protocol: "http:", host: "127.0.0.1:8000" }, "a b"),
      "ws://127.0.0.1:8000/ws/communities/a%20b/",
    );
  });
});

class FakeTimers {
  constructor() {
    this.queue = new Map();
    this.next = 1;
  }
  setTimeout(callback, delay) {
    const id = this.next++;
    this.queue.set(id, { callback, delay });
    return id;
  }
  clearTimeout(id) {
    this.queue.delete(id);
  }
  /** Run the pending timer with the shortest delay; return that delay. */
  runNext() {
    const [id, timer] = [...this.queue].sort((a, b) => a[1].delay - b[1].delay)[0];
    this.queue.delete(id);
    timer.callback();
    return timer.delay;
  }
  delays() {
    return [...this.queue.values()].map((timer) => timer.delay);
  }
}

function fakeSocketClass() {
  const sockets = [];
  class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    open() {
      this.readyState = 1;
      this.onopen();
    }
    receive(data) {
      this.onmessage({ data: typeof data === "string" ? data : JSON.stringify(data) });
    }
    send(text) {
      this.sent.push(JSON.parse(text));
    }
    close(code = 1006) {
      this.readyState = 3;
      this.onclose({ code });
    }
  }
  return { FakeSocket, sockets };
}

describe("Connection", () => {
  it("reconnects with growing, capped delays and calls onOpen each time", () => {
    const { FakeSocket, sockets } = fakeSocketClass();
    const timers = new FakeTimers();
    const statuses = [];
    let opens = 0;
    const connection = new Connection({
      url: "ws://x/ws/communities/c/",
      WebSocketImpl: FakeSocket,
      timers,
      random: () => 1,
      onStatus: (status) => statuses.push(status),
      onOpen: () => {
        opens += 1;
      },
    });
    connection.connect();
    sockets[0].open();
    assert.equal(opens, 1);
    sockets[0].close(1006);
    assert.equal(connection.status, "offline");
    const delays = [];
    for (let i = 0; i < 8; i += 1) {
      assert.equal(timers.delays().length, 1, "only the retry timer runs while down");
      delays.push(timers.delays()[0]);
      timers.runNext();
      sockets.at(-1).close(1006);
    }
    assert.deepEqual(delays.slice(0, 4), [500, 1000, 2000, 4000]);
    assert.ok(delays.every((delay) => delay <= BACKOFF_CAP_MS));
    assert.equal(delays.at(-1), BACKOFF_CAP_MS);
    timers.runNext();
    sockets.at(-1).open();
    assert.equal(opens, 2);
    assert.equal(connection.status, "online");
    assert.deepEqual(statuses, ["connecting", "online", "offline", "online"]);
    assert.equal(connection.attempt, 0, "a successful open resets the backoff");
  });

  it("passes parsed frames on and reports rejected ones", () => {
    const { FakeSocket, sockets } = fakeSocketClass();
    const frames = [];
    const rejected = [];
    const connection = new Connection({
      url: "ws://x/",
      WebSocketImpl: FakeSocket,
      timers: new FakeTimers(),
      onFrame: (frame) => frames.push(frame),
      onRejected: (error) => rejected.push(error),
    });
    connection.connect();
    sockets[0].open();
    sockets[0].receive({ type: "pong" });
    sockets[0].receive({ type: "surprise" });
    sockets[0].receive("not json");
    assert.deepEqual(frames, [{ type: "pong" }]);
    assert.deepEqual(rejected, ["unknown_type", "invalid_json"]);
  });

  it("refuses to send while closed so the caller keeps the frame", () => {
    const { FakeSocket, sockets } = fakeSocketClass();
    const connection = new Connection({
      url: "ws://x/",
      WebSocketImpl: FakeSocket,
      timers: new FakeTimers(),
    });
    assert.equal(connection.send({ type: "ping" }), false);
    connection.connect();
    assert.equal(connection.send({ type: "ping" }), false, "still connecting");
    sockets[0].open();
    assert.equal(connection.send({ type: "ping" }), true);
    assert.deepEqual(sockets[0].sent, [{ type: "ping" }]);
  });

  it("stops for good on 4403 (access revoked)", () => {
    const { FakeSocket, sockets } = fakeSocketClass();
    const timers = new FakeTimers();
    let gaveUp = null;
    const connection = new Connection({
      url: "ws://x/",
      WebSocketImpl: FakeSocket,
      timers,
      onGiveUp: (code) => {
        gaveUp = code;
      },
    });
    connection.connect();
    sockets[0].open();
    sockets[0].close(4403);
    assert.equal(gaveUp, 4403);
    assert.equal(connection.status, "revoked");
    assert.deepEqual(timers.delays(), []);
    connection.reconnectNow();
    assert.equal(sockets.length, 1);
  });

  it("drops a socket that stops answering pings, then reconnects", () => {
    const { FakeSocket, sockets } = fakeSocketClass();
    const timers = new FakeTimers();
    const connection = new Connection({
      url: "ws://x/",
      WebSocketImpl: FakeSocket,
      timers,
      random: () => 0,
    });
    connection.connect();
    sockets[0].open();
    assert.equal(timers.runNext(), 25_000);
    assert.deepEqual(sockets[0].sent, [{ type: "ping" }]);
    assert.equal(timers.runNext(), 10_000);
    assert.equal(connection.status, "offline");
    timers.runNext();
    assert.equal(sockets.length, 2);
  });
});
