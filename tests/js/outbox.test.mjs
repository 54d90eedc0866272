import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { loadCursor, openOutbox, saveCursor } from "../../frontend/js/outbox.js";
import { Store } from "../../frontend/js/store.js";

// A test-only package (package.json): `npm ci` installs it; without it these
// tests say they were skipped and why.
let IDBFactory = null;
try {
  ({ IDBFactory } = await import("fake-indexeddb"));
} catch {
  IDBFactory = null;
}
const needsIndexedDB = { skip: IDBFactory ? false : "fake-indexeddb is missing: run npm ci" };

function item(clientId, createdAt, extra = {}) {
  return {
    clientId,
    body: `texte ${clientId}`,
    conversation: 3,
    to: null,
    attachments: [],
    status: "pending",
    error: null,
    createdAt,
    ...extra,
  };
}

describe("outbox (IndexedDB)", needsIndexedDB, () => {
  it("gives a later page the sends left pending, oldest first", async () => {
    const indexedDB = new IDBFactory();
    const page = await openOutbox({ me: "alice", community: "bourg", indexedDB });
    assert.deepEqual(page.items, []);
    await page.put(item("b", 2));
    await page.put(item("a", 1));
    await page.put(item("c", 3));
    await page.delete("c");
    const later = await openOutbox({ me: "alice", community: "bourg", indexedDB });
    assert.deepEqual(
      later.items.map((row) => row.clientId),
      ["a", "b"],
    );
  });

  it("keeps each resident's and community's sends apart", async () => {
    const indexedDB = new IDBFactory();
    const alice = await openOutbox({ me: "alice", community: "bourg", indexedDB });
    await alice.put(item("a", 1));
    const bob = await openOutbox({ me: "bob", community: "bourg", indexedDB });
    const elsewhere = await openOutbox({ me: "alice", community: "autre", indexedDB });
    assert.deepEqual(bob.items, []);
    assert.deepEqual(elsewhere.items, []);
  });

  it("goes on without storage when IndexedDB never answers", async () => {
    const hanging = { open: () => ({}) };
    const outbox = await openOutbox({ me: "alice", community: "bourg", indexedDB: hanging, within: 20 });
    assert.deepEqual(outbox.items, []);
    await outbox.put(item("a", 1));
  });

  it("works without IndexedDB, keeping nothing", async () => {
    const outbox = await openOutbox({ me: "alice", community: "bourg", indexedDB: undefined });
    await outbox.put(item("a", 1));
    assert.deepEqual(outbox.items, []);
  });

  it("carries a store's pending sends through a reload, each resent once", async () => {
    const indexedDB = new IDBFactory();
    let n = 0;
    const first = new Store({
      me: "alice",
      community: "bourg",
      outbox: await openOutbox({ me: "alice", community: "bourg", indexedDB }),
      uuid: () => `k${++n}`,
    });
    first.send({ body: "un", conversation: 3 });
    first.send({ body: "deux", conversation: 3 });
    await new Promise((resolve) => setTimeout(resolve, 10));

    const outbox = await openOutbox({ me: "alice", community: "bourg", indexedDB });
    const second = new Store({ me: "alice", community: "bourg", outbox });
    second.restorePending(outbox.items);
    const frames = second.resendFrames();
    assert.deepEqual(
      frames.map((f) => [f.client_id, f.body]),
      [
        ["k1", "un"],
        ["k2", "deux"],
      ],
    );
    for (const [id, frame] of frames.entries()) {
      const message = {
        id: 10 + id,
        conversation: 3,
        sender: "alice",
        participants: ["alice", "bob"],
        body: frame.body,
        sent_at: "2026-11-26T09:14:03.512Z",
        client_id: frame.client_id,
        rev: 10 + id,
      };
      second.applyFrame({ type: "message.ack", client_id: frame.client_id, message });
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    const third = await openOutbox({ me: "alice", community: "bourg", indexedDB });
    assert.deepEqual(third.items, [], "nothing left to send after the acks");
  });
});

describe("sync cursor (localStorage)", () => {
  function storage() {
    const values = new Map();
    return {
      getItem: (key) => values.get(key) ?? null,
      setItem: (key, value) => values.set(key, String(value)),
    };
  }

  it("is kept per resident and community", () => {
    const store = storage();
    saveCursor(store, "alice", "bourg", { lastId: 12, maxRev: 40 });
    assert.deepEqual(loadCursor(store, "alice", "bourg"), { lastId: 12, maxRev: 40 });
    assert.equal(loadCursor(store, "bob", "bourg"), null);
    assert.equal(loadCursor(store, "alice", "autre"), null);
  });

  it("ignores what it cannot read", () => {
    const store = storage();
    store.setItem("voisins.cursor.alice.bourg", "{oops");
    assert.equal(loadCursor(store, "alice", "bourg"), null);
    store.setItem("voisins.cursor.alice.bourg", '{"lastId": "12", "maxRev": 3}');
    assert.equal(loadCursor(store, "alice", "bourg"), null);
  });
});
