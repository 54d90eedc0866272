// Notifications from the page: the opt-in offer, system notifications for
// messages that arrive while the tab is hidden, the service worker's
// messages, and stopping pushes before logging out.

import { t } from "./i18n.js";
import * as push from "./push.js";
import { byId } from "./views/dom.js";

/**
 * Show one notification per conversation for `messages` from others, while
 * the tab is hidden. `describe(message)` gives `{ title, body, url }`.
 */
export function notifyHidden({ messages, me, describe, onOpen }) {
  if (document.visibilityState === "visible") return;
  const latest = new Map();
  for (const message of messages) {
    if (message.sender !== me) latest.set(message.conversation, message);
  }
  for (const message of latest.values()) {
    push.showNotification({
      ...describe(message),
      tag: `conversation-${message.conversation}`,
      onClick: () => onOpen(message.conversation),
    });
  }
}

/** The notification text, or a neutral one when the resident keeps text out of them. */
export function notificationBody(showText, sender, text) {
  return showText ? t("list.from", { name: sender, text }) : t("notify.fallback");
}

/**
 * Wire the offer button, the service worker (registration, push
 * subscription, its "open", "watching" and "refresh" messages) and the
 * logout form.
 */
export function setUpNotifications({ onOpenUrl, watching, onRefresh }) {
  const offer = byId("notify-offer");
  if (push.notificationsSupported() && push.permission() === "default") offer.hidden = false;
  byId("notify-enable").addEventListener("click", async () => {
    await push.enableNotifications();
    offer.hidden = true;
  });
  push.registerWorker().then(() => {
    if (push.permission() === "granted") push.subscribePush().catch(() => {});
  });
  push.onWorkerMessage({ open: (data) => onOpenUrl(data.url), watching, refresh: onRefresh });

  // Before logging out, stop pushes to this browser: it may be shared.
  const logout = byId("logout-form");
  logout.addEventListener("submit", async (event) => {
    if (logout.dataset.leaving) return;
    event.preventDefault();
    logout.dataset.leaving = "1";
    await Promise.race([push.disablePush(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
    logout.submit();
  });
}
