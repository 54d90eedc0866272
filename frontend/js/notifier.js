// Notifications from the page: the opt-in offer, system notifications for
// messages that arrive while the tab is hidden, the service worker's
// messages, and stopping pushes before logging out.

import { t } from "./i18n.js";
import * as push from "./push.js";
import { conversationTitle, previewText } from "./views/conversationList.js";
import { byId } from "./views/dom.js";

/** Title, text and link of a message's notification. */
export function describeMessage(store, message, { showText, hrefFor }) {
  const conversation = store.conversations.get(message.conversation);
  const sender = store.displayName(message.sender);
  return {
    title: conversation ? conversationTitle(store, conversation) : sender,
    body: showText ? t("list.from", { name: sender, text: previewText(message) }) : t("notify.fallback"),
    url: hrefFor(message.conversation),
  };
}

/** One notification per conversation for `messages` from others, while the tab is hidden. */
export function notifyHidden({ store, messages, showText, hrefFor, onOpen }) {
  if (document.visibilityState === "visible") return;
  const latest = new Map();
  for (const message of messages) {
    if (message.sender !== store.me) latest.set(message.conversation, message);
  }
  for (const message of latest.values()) {
    push.showNotification({
      ...describeMessage(store, message, { showText, hrefFor }),
      tag: `conversation-${message.conversation}`,
      onClick: () => onOpen(message.conversation),
    });
  }
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
