// The residents' app: wires the store, the socket and the views together.

import { api, ApiError, csrfToken, setCsrfToken } from "./api.js";
import { language, setLanguage, t } from "./i18n.js";
import { PresenceTracker } from "./presence.js";
import * as push from "./push.js";
import { Connection, socketUrl } from "./socket.js";
import { Store, UnknownFrameError } from "./store.js";
import { Composer } from "./views/composer.js";
import { ConversationList, conversationTitle } from "./views/conversationList.js";
import { EmailBanner } from "./views/banner.js";
import { byId } from "./views/dom.js";
import { RecipientPicker } from "./views/picker.js";
import { SettingsDialog } from "./views/settings.js";
import { renderStatus } from "./views/status.js";
import { errorText, ThreadView } from "./views/thread.js";

const HISTORY_PAGE = 50;
const TYPING_EVERY_MS = 3_000;
const ACCESS_PROBE_EVERY_MS = 10_000;

const config = JSON.parse(byId("app-config").textContent);
setLanguage(config.language);
setCsrfToken(config.csrf);

const layout = byId("main");
const statusNode = byId("connection");
const state = {
  slug: null,
  store: null,
  connection: null,
  current: { type: "none" },
  preferences: null,
  lastTypingSent: 0,
  lastProbe: 0,
};

// URLs: /?community=<slug>&conversation=<id>, or &new=1 for a new message.

function hrefFor(conversation) {
  const params = new URLSearchParams({ community: state.slug });
  if (conversation !== undefined) params.set("conversation", String(conversation));
  return `/?${params}`;
}

function routeFromLocation() {
  const params = new URLSearchParams(location.search);
  const conversation = Number(params.get("conversation") ?? NaN);
  return {
    community: params.get("community"),
    conversation: Number.isSafeInteger(conversation) && conversation > 0 ? conversation : null,
    draft: params.get("new") === "1",
  };
}

function setUrl(url, replace) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

const isWide = () => matchMedia("(min-width: 48rem)").matches;

// Views

const list = new ConversationList({
  root: byId("conversation-list"),
  empty: byId("conversation-empty"),
  onOpen: (id) => openConversation(id),
  hrefFor,
});

const thread = new ThreadView({
  onRetry: (clientId) => {
    const frame = state.store.retry(clientId);
    if (frame) state.connection?.send(frame);
  },
  onLoadOlder: () => loadOlder(),
});

const composer = new Composer({
  onSend: (body) => sendMessage(body),
  onTyping: () => sendTyping(),
});

const picker = new RecipientPicker({
  searchMembers: (query) => api.members(state.slug, query),
  onChange: (usernames) => {
    if (state.current.type !== "draft") return;
    state.current = { type: "draft", participants: [config.me, ...usernames].sort() };
    const existing = state.store.findByParticipants(state.current.participants);
    thread.show(state.current);
    if (existing) loadHistory(existing.id);
  },
});

const banner = new EmailBanner({
  after: document.querySelector(".topbar"),
  email: config.email,
  confirm: () => api.confirmEmail(),
});

const settings = new SettingsDialog({
  api,
  push,
  onLanguage: changeLanguage,
  onPreferences: (prefs) => {
    state.preferences = prefs;
    banner.update(prefs);
  },
});

function updateTitle() {
  const total = state.store?.totalUnread() ?? 0;
  const base = t("app.title");
  document.title = total ? `(${total}) ${base}` : base;
}

// Navigation

function showPane(pane) {
  layout.dataset.view = pane;
}

function openConversation(id, { replace = false, focus = true } = {}) {
  state.current = { type: "conversation", id };
  setUrl(hrefFor(id), replace);
  picker.setVisible(false);
  composer.setVisible(true);
  composer.setError("");
  list.select(id);
  thread.show(state.current);
  showPane("thread");
  loadHistory(id);
  markVisibleRead();
  if (focus) (isWide() ? composer : byId("thread-title")).focus();
}

function openDraft({ replace = false } = {}) {
  state.current = { type: "draft", participants: [config.me] };
  setUrl(`${hrefFor()}&new=1`, replace);
  picker.reset(config.me);
  picker.setVisible(true);
  composer.setVisible(true);
  composer.setError("");
  list.select(null);
  thread.show(state.current);
  showPane("thread");
  picker.focus();
}

function closeThread({ replace = false } = {}) {
  state.current = { type: "none" };
  setUrl(hrefFor(), replace);
  picker.setVisible(false);
  composer.setVisible(false);
  list.select(null);
  thread.show(state.current);
  showPane("list");
}

function applyRoute(route, replace) {
  if (route.conversation) openConversation(route.conversation, { replace, focus: false });
  else if (route.draft) openDraft({ replace });
  else closeThread({ replace });
}

// History

async function loadHistory(id) {
  const store = state.store;
  const conversation = store.ensureConversation(id);
  if (conversation.history !== "none") return;
  conversation.history = "loading";
  thread.setLoading(true);
  try {
    const page = await api.messages(id, { limit: HISTORY_PAGE });
    if (store !== state.store) return;
    store.loadHistory(id, page, HISTORY_PAGE);
    markVisibleRead();
  } catch (error) {
    conversation.history = "none";
    if (error instanceof ApiError && error.status === 404 && state.current.id === id) {
      store.conversations.delete(id);
      closeThread({ replace: true });
    } else {
      composer.setError(t("thread.loadError"));
    }
  } finally {
    thread.setLoading(false);
  }
}

async function loadOlder() {
  const store = state.store;
  const id = thread.conversationId();
  const conversation = id !== null ? store.conversations.get(id) : null;
  if (!conversation || conversation.history !== "partial" || thread.loading) return;
  thread.setLoading(true);
  try {
    const page = await api.messages(id, {
      before: conversation.oldestHistoryId,
      limit: HISTORY_PAGE,
    });
    if (store === state.store) store.loadHistory(id, page, HISTORY_PAGE);
  } catch {
    composer.setError(t("thread.loadError"));
  } finally {
    thread.setLoading(false);
  }
}

// Sending, reading, typing

async function sendMessage(body) {
  const store = state.store;
  composer.setError("");
  let frame;
  if (state.current.type === "conversation") {
    frame = store.send({ body, conversation: state.current.id });
  } else if (state.current.type === "draft") {
    const to = await picker.resolve();
    if (!to) return false;
    const existing = store.findByParticipants([config.me, ...to]);
    if (existing) {
      frame = store.send({ body, conversation: existing.id });
      openConversation(existing.id, { replace: true });
    } else {
      frame = store.send({ body, to });
    }
  } else {
    return false;
  }
  state.connection?.send(frame);
  return true;
}

function sendTyping() {
  if (state.current.type !== "conversation") return;
  const now = Date.now();
  if (now - state.lastTypingSent < TYPING_EVERY_MS) return;
  state.lastTypingSent = now;
  state.connection?.send({ type: "typing", conversation: state.current.id });
}

function markVisibleRead() {
  if (state.current.type !== "conversation" || document.visibilityState !== "visible") return;
  const frame = state.store.readFrame(state.current.id);
  if (frame) state.connection?.send(frame);
}

// Notifications while hidden

function notifyHidden(messages) {
  if (document.visibilityState === "visible") return;
  const latest = new Map();
  for (const message of messages) {
    if (message.sender !== config.me) latest.set(message.conversation, message);
  }
  const showText = state.preferences?.email_include_text !== false;
  for (const message of latest.values()) {
    const conversation = state.store.conversations.get(message.conversation);
    push.showNotification({
      title: conversation
        ? conversationTitle(state.store, conversation)
        : state.store.displayName(message.sender),
      body: showText
        ? `${state.store.displayName(message.sender)} : ${message.body}`
        : t("notify.fallback"),
      url: hrefFor(message.conversation),
      tag: `conversation-${message.conversation}`,
      onClick: () => openConversation(message.conversation),
    });
  }
}

// Frames

function onFrame(frame) {
  const store = state.store;
  let result;
  try {
    result = store.applyFrame(frame);
  } catch (error) {
    if (error instanceof UnknownFrameError) {
      console.warn(error.message);
      return;
    }
    throw error;
  }
  for (const next of result.send) state.connection.send(next);
  if (result.resolved && state.current.type === "draft") {
    const conversation = store.conversations.get(result.resolved.conversation);
    if (conversation) {
      state.current.participants = conversation.participants;
      openConversation(conversation.id, { replace: true, focus: false });
    }
  }
  if (result.fresh.length) {
    notifyHidden(result.fresh);
    markVisibleRead();
  }
  if (result.error) {
    console.warn("server error frame", result.error.code);
    if (result.error.code === "rate_limited") composer.setError(errorText("rate_limited"));
  }
  if (frame.type === "typing") scheduleTypingExpiry();
}

let typingTimer = null;
function scheduleTypingExpiry() {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    thread.renderTyping();
    const id = thread.conversationId();
    if (id !== null && state.store.typingIn(id).length) scheduleTypingExpiry();
  }, 1_000);
}

function onOpen() {
  const connection = state.connection;
  connection.send(state.store.syncFrame());
  for (const frame of state.store.resendFrames()) connection.send(frame);
  if (presence.state === "idle") connection.send({ type: "presence", state: "idle" });
  if (state.current.type === "conversation") {
    const last = state.store.conversations.get(state.current.id)?.lastMessage;
    if (last && document.visibilityState === "visible") {
      connection.send({ type: "message.read", conversation: state.current.id, up_to: last.id });
    }
  }
}

/** After failed handshakes: logged out, or no longer in this community? */
async function probeAccess() {
  const now = Date.now();
  if (now - state.lastProbe < ACCESS_PROBE_EVERY_MS) return;
  state.lastProbe = now;
  try {
    const communities = await api.communities();
    if (!communities.some((community) => community.slug === state.slug)) location.assign("/");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
  }
}

// Community

async function startCommunity(slug) {
  state.connection?.stop();
  state.slug = slug;
  localStorage.setItem("voisins.community", slug);
  const store = new Store({ me: config.me, community: slug });
  state.store = store;
  store.subscribe((change) => {
    if (store !== state.store) return;
    list.render();
    updateTitle();
    const shown = thread.conversationId();
    const draft = state.current.type === "draft";
    if (
      change.kind === "members" ||
      change.conversation === undefined ||
      change.conversation === shown ||
      (draft && change.kind === "pending")
    ) {
      thread.render({ history: Boolean(change.history) });
    }
  });
  list.bind(store);
  thread.bind(store);
  renderStatus(statusNode, "connecting");
  for (let attempt = 0; ; attempt += 1) {
    try {
      const [members, conversations] = await Promise.all([
        api.members(slug),
        api.conversations(slug),
      ]);
      if (store !== state.store) return;
      store.setMembers(members);
      store.loadConversations(conversations);
      break;
    } catch (error) {
      if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
        probeAccess();
        return;
      }
      renderStatus(statusNode, "offline");
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)));
    }
  }
  const connection = new Connection({
    url: socketUrl(location, slug),
    onFrame,
    onOpen,
    onStatus: (status) => {
      renderStatus(statusNode, status);
      if (status === "offline" && connection.attempt >= 2) probeAccess();
    },
    onGiveUp: () => probeAccess(),
  });
  state.connection = connection;
  connection.connect();
  applyRoute(routeFromLocation(), true);
}

async function changeLanguage(lang) {
  const body = new URLSearchParams({ language: lang });
  await fetch("/i18n/setlang/", {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
    body,
    credentials: "same-origin",
  });
  location.reload();
}

// Start

const presence = new PresenceTracker({
  doc: document,
  win: window,
  onChange: (value) => {
    state.connection?.send({ type: "presence", state: value });
    if (value === "active") markVisibleRead();
  },
});
presence.start();

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    markVisibleRead();
    state.connection?.reconnectNow();
  }
});
window.addEventListener("online", () => state.connection?.reconnectNow());
window.addEventListener("popstate", () => {
  const route = routeFromLocation();
  if (route.community && route.community !== state.slug) {
    startCommunity(route.community);
    return;
  }
  applyRoute(route, true);
});

byId("new-conversation").addEventListener("click", () => openDraft());
byId("thread-back").addEventListener("click", () => closeThread());

const select = byId("community-select");
select?.addEventListener("change", () => {
  setUrl(`/?community=${encodeURIComponent(select.value)}`, false);
  startCommunity(select.value);
});

// Before logging out, stop pushes to this browser: it may be shared.
const logout = byId("logout-form");
logout.addEventListener("submit", async (event) => {
  if (logout.dataset.leaving) return;
  event.preventDefault();
  logout.dataset.leaving = "1";
  await Promise.race([push.disablePush(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  logout.submit();
});

const offer = byId("notify-offer");
if (push.notificationsSupported() && push.permission() === "default") offer.hidden = false;
byId("notify-enable").addEventListener("click", async () => {
  await push.enableNotifications();
  offer.hidden = true;
});

push.registerWorker().then(() => {
  if (push.permission() === "granted") push.subscribePush().catch(() => {});
});
push.onWorkerMessage({
  open: (data) => {
    try {
      const url = new URL(data.url, location.origin);
      if (url.origin !== location.origin) return;
      history.pushState(null, "", url.pathname + url.search);
      const route = routeFromLocation();
      if (route.community && route.community !== state.slug) startCommunity(route.community);
      else applyRoute(route, true);
    } catch {
      // Not a URL of ours.
    }
  },
  watching: (conversation) =>
    document.visibilityState === "visible" &&
    document.hasFocus() &&
    state.current.type === "conversation" &&
    String(state.current.id) === conversation,
});

api
  .preferences()
  .then((prefs) => {
    state.preferences = prefs;
    banner.update(prefs);
  })
  .catch(() => {});

const slugs = config.communities.map((community) => community.slug);
if (slugs.length) {
  const wanted = routeFromLocation().community ?? localStorage.getItem("voisins.community");
  const slug = slugs.includes(wanted) ? wanted : slugs[0];
  if (select) select.value = slug;
  document.documentElement.dataset.lang = language();
  startCommunity(slug);
}
