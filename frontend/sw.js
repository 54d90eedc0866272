// Service worker: shows Web Push notifications and opens the conversation on
// click. Served at /sw.js so that its scope covers the whole app.
"use strict";

const FALLBACK_TITLE = { fr: "Nouveau message", en: "New message" };

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/** A same-origin URL for the conversation a push is about ("/" otherwise). */
function targetUrl(data) {
  let url = "/";
  if (typeof data.url === "string" && data.url) {
    url = data.url;
  } else if (data.conversation) {
    const params = new URLSearchParams({ conversation: String(data.conversation) });
    if (data.community) params.set("community", String(data.community));
    url = `/?${params}`;
  }
  try {
    // Only ever open this site: keep the path and query, on our own origin
    // (SITE_URL may name another host than the one the resident uses).
    const parsed = new URL(url, self.location.origin);
    return self.location.origin + parsed.pathname + parsed.search;
  } catch {
    return self.location.origin + "/";
  }
}

/** The conversation id a URL points at, or null. */
function conversationOf(url) {
  try {
    const parsed = new URL(url);
    const fromQuery = parsed.searchParams.get("conversation");
    if (fromQuery) return fromQuery;
    const match = parsed.pathname.match(/\/conversations\/(\d+)\/?$/);
    return match ? match[1] : null;
  } catch {
    return null;
  }
}

const ASK_TIMEOUT_MS = 500;

/**
 * Whether a tab shows this conversation in front of the resident. The tab
 * knows best (the URL may lag, and `focused` is unreliable in some
 * browsers), so ask it; a tab that does not answer in time is not watching.
 */
function isWatching(client, conversation) {
  if (client.focused && conversationOf(client.url) === conversation) return Promise.resolve(true);
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), ASK_TIMEOUT_MS);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      resolve(event.data === true);
    };
    client.postMessage({ type: "watching", conversation }, [channel.port2]);
  });
}

function readPayload(event) {
  if (!event.data) return {};
  try {
    const data = event.data.json();
    return data && typeof data === "object" ? data : { body: String(data) };
  } catch {
    return { body: event.data.text() };
  }
}

async function onPush(event) {
  const data = readPayload(event);
  const url = targetUrl(data);
  const conversation = conversationOf(url) ?? (data.conversation ? String(data.conversation) : null);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  // Open tabs update their other communities' unread counts.
  for (const client of windows) client.postMessage({ type: "refresh" });
  // The resident is looking at that very conversation: no need to ring.
  if (conversation !== null) {
    const answers = await Promise.all(windows.map((client) => isWatching(client, conversation)));
    if (answers.some(Boolean)) return;
  }
  const lang = data.language === "en" ? "en" : "fr";
  const title = typeof data.title === "string" && data.title ? data.title : FALLBACK_TITLE[lang];
  await self.registration.showNotification(title, {
    body: typeof data.body === "string" ? data.body : "",
    tag: data.tag || (conversation ? `conversation-${conversation}` : "voisins"),
    renotify: true,
    lang,
    data: { url, conversation },
  });
}

self.addEventListener("push", (event) => event.waitUntil(onPush(event)));

async function onClick(event) {
  event.notification.close();
  const url = event.notification.data?.url || self.location.origin + "/";
  const conversation = event.notification.data?.conversation ?? conversationOf(url);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const showing = windows.find((client) => conversation && conversationOf(client.url) === conversation);
  if (showing) {
    await showing.focus();
    return;
  }
  const app = windows.find((client) => new URL(client.url).origin === self.location.origin);
  if (app) {
    app.postMessage({ type: "open", url });
    await app.focus();
    return;
  }
  await self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => event.waitUntil(onClick(event)));
