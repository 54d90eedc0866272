import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import vm from "node:vm";

const SOURCE = readFileSync(new URL("../../frontend/sw.js", import.meta.url), "utf8");
const ORIGIN = "https://voisins.example";

/** A window client double: records focus and messages. */
function windowClient(url) {
  return {
    url,
    focused: false,
    posted: [],
    focusCount: 0,
    focus() {
      this.focusCount += 1;
      return Promise.resolve(this);
    },
    postMessage(message) {
      this.posted.push(message);
    },
  };
}

/** Load sw.js in a fresh context with a fake `self`; returns its handlers and the fakes. */
function loadWorker(windows) {
  const handlers = {};
  const opened = [];
  const self = {
    location: new URL(`${ORIGIN}/sw.js`),
    addEventListener: (type, handler) => {
      handlers[type] = handler;
    },
    clients: {
      matchAll: async () => windows,
      openWindow: async (url) => opened.push(url),
      claim: async () => {},
    },
    skipWaiting: () => {},
    registration: { showNotification: async () => {} },
  };
  // Ports that keep nothing alive: a tab double never answers "watching".
  class Channel {
    port1 = {};
    port2 = {};
  }
  vm.runInNewContext(SOURCE, {
    self,
    URL,
    URLSearchParams,
    setTimeout,
    clearTimeout,
    MessageChannel: Channel,
  });
  return { handlers, opened };
}

async function click(handlers, data) {
  let done;
  let closed = false;
  handlers.notificationclick({
    notification: { data, close: () => (closed = true) },
    waitUntil: (promise) => (done = promise),
  });
  await done;
  return closed;
}

const url = `${ORIGIN}/?community=bourg&conversation=37`;

describe("service worker: a click on a notification", () => {
  it("focuses the tab that already shows the conversation", async () => {
    const showing = windowClient(url);
    const other = windowClient(`${ORIGIN}/?community=bourg&conversation=5`);
    const { handlers, opened } = loadWorker([other, showing]);
    assert.equal(await click(handlers, { url, conversation: "37" }), true);
    assert.equal(showing.focusCount, 1);
    assert.deepEqual(other.posted, []);
    assert.deepEqual(opened, []);
  });

  it("asks an open tab of the app to open it, and focuses that tab", async () => {
    const app = windowClient(`${ORIGIN}/?community=bourg`);
    const { handlers, opened } = loadWorker([app]);
    await click(handlers, { url, conversation: "37" });
    assert.deepEqual(JSON.parse(JSON.stringify(app.posted)), [{ type: "open", url }]);
    assert.equal(app.focusCount, 1);
    assert.deepEqual(opened, []);
  });

  it("opens a window on the conversation when no tab is open", async () => {
    const { handlers, opened } = loadWorker([]);
    await click(handlers, { url, conversation: "37" });
    assert.deepEqual(opened, [url]);
  });
});

describe("service worker: a push", () => {
  it("tells open tabs to refresh their unread counts", async () => {
    const app = windowClient(`${ORIGIN}/?community=bourg`);
    const { handlers } = loadWorker([app]);
    let done;
    handlers.push({
      data: { json: () => ({ title: "Bob", body: "Salut", url: "/?community=nord&conversation=9" }) },
      waitUntil: (promise) => (done = promise),
    });
    // The tab does not answer "watching": the worker waits its short timeout.
    await done;
    assert.deepEqual(
      JSON.parse(JSON.stringify(app.posted.filter((m) => m.type === "refresh"))),
      [{ type: "refresh" }],
    );
  });
});
