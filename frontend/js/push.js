// Notifications: the opt-in button, Web Push subscription through the service
// worker, and system notifications while the tab is hidden.

import { api } from "./api.js";

const WORKER_URL = "/sw.js";

export function notificationsSupported() {
  return "Notification" in globalThis && "serviceWorker" in navigator;
}

export function permission() {
  return "Notification" in globalThis ? Notification.permission : "unsupported";
}

/** The VAPID key as the bytes PushManager.subscribe wants. */
export function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register(WORKER_URL, { scope: "/" });
  } catch {
    return null;
  }
}

async function currentSubscription() {
  const registration = await navigator.serviceWorker?.getRegistration("/");
  return registration?.pushManager ? registration.pushManager.getSubscription() : null;
}

/** Subscribe this browser to Web Push and tell the server (idempotent). */
export async function subscribePush() {
  const registration = await registerWorker();
  if (!registration?.pushManager) throw new Error("push unsupported");
  await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const { public_key: key } = await api.pushKey();
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(key),
    });
  }
  await api.subscribePush(subscription.toJSON());
  return subscription;
}

/**
 * Ask for permission (from a click), then subscribe to push.
 * Returns "enabled", "local" (notifications only while a tab is open),
 * "denied" or "unsupported".
 */
export async function enableNotifications() {
  if (!("Notification" in globalThis)) return "unsupported";
  const answer = await Notification.requestPermission();
  if (answer !== "granted") return "denied";
  try {
    await subscribePush();
    return "enabled";
  } catch {
    return "local";
  }
}

/** Stop pushes to this browser (also before logging out: a shared computer). */
export async function disablePush() {
  try {
    const subscription = await currentSubscription();
    if (!subscription) return;
    const endpoint = subscription.endpoint;
    await subscription.unsubscribe();
    await api.unsubscribePush(endpoint);
  } catch {
    // Best effort: the server forgets endpoints the push service rejects.
  }
}

/** Re-post an existing subscription: the endpoint follows whoever is logged in. */
export async function refreshPush() {
  if (permission() !== "granted") return;
  try {
    const subscription = await currentSubscription();
    if (subscription) await api.subscribePush(subscription.toJSON());
  } catch {
    // The server may not offer push; in-page notifications still work.
  }
}

/** A system notification for a message, shown while the tab is hidden. */
export async function showNotification({ title, body, url, tag, onClick }) {
  if (permission() !== "granted") return;
  const options = { body, tag, renotify: true, data: { url } };
  try {
    const registration = await navigator.serviceWorker?.getRegistration("/");
    if (registration) {
      await registration.showNotification(title, options);
      return;
    }
  } catch {
    // Fall back to a page notification below.
  }
  const notification = new Notification(title, options);
  notification.onclick = () => {
    globalThis.focus();
    onClick?.();
    notification.close();
  };
}

/**
 * Messages from the service worker: "open this conversation", "are you
 * showing this conversation to the resident right now?" (answered on the
 * port), and "a push came: refresh the unread counts".
 */
export function onWorkerMessage({ open, watching, refresh }) {
  navigator.serviceWorker?.addEventListener("message", (event) => {
    const data = event.data;
    if (!data || typeof data !== "object") return;
    switch (data.type) {
      case "open":
        open(data);
        break;
      case "watching":
        event.ports[0]?.postMessage(watching(String(data.conversation)));
        break;
      case "refresh":
        refresh?.();
        break;
      default:
        break;
    }
  });
  navigator.serviceWorker?.startMessages();
}
