// The residents' app: wires the store, the socket and the views together.

import { api, setCsrfToken } from "./api.js";
import { language, setLanguage, t, translatePage } from "./i18n.js";
import { PresenceTracker } from "./presence.js";
import { openCommunityStore } from "./community.js";
import { HistoryLoader } from "./history.js";
import { Navigator } from "./navigation.js";
import { notifyHidden, setUpNotifications } from "./notifier.js";
import * as push from "./push.js";
import { hrefFor as hrefIn, routeFrom, setUrl } from "./routes.js";
import { changeLanguage, fetchCommunity, probeAccess } from "./session.js";
import { Connection, socketUrl } from "./socket.js";
import { UnknownFrameError } from "./store.js";
import { uploadFile } from "./uploads.js";
import { EmailBanner } from "./views/banner.js";
import { CommunitySwitcher } from "./views/communities.js";
import { Composer } from "./views/composer.js";
import { ConversationList } from "./views/conversationList.js";
import { byId } from "./views/dom.js";
import { MuteButton } from "./views/mute.js";
import { RecipientPicker } from "./views/picker.js";
import { SearchView } from "./views/search.js";
import { SettingsDialog } from "./views/settings.js";
import { renderStatus } from "./views/status.js";
import { errorText, ThreadView } from "./views/thread.js";

const TYPING_EVERY_MS = 3_000;

const config = JSON.parse(byId("app-config").textContent);
setLanguage(config.language);
setCsrfToken(config.csrf);
translatePage(document);

const statusNode = byId("connection");
const state = {
  slug: null,
  store: null,
  connection: null,
  current: { type: "none" },
  preferences: null,
  lastTypingSent: 0,
};

const hrefFor = (conversation) => hrefIn(state.slug, conversation);
const routeFromLocation = () => routeFrom(location.search);

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
  onEdit: (id, body) => sendChange({ type: "message.edit", id, body }),
  onDelete: (id) => sendChange({ type: "message.delete", id }),
  editWindowSeconds: config.editWindowSeconds,
});

const composer = new Composer({
  onSend: (body, attachments) => sendMessage(body, attachments),
  onTyping: () => sendTyping(),
  upload: (file, onProgress) =>
    uploadFile({ slug: state.slug, file, onProgress, maxBytes: config.attachmentMaxBytes }),
  maxBytes: config.attachmentMaxBytes,
});

const search = new SearchView({
  search: (q) => api.search(state.slug, q),
  onOpen: (conversation, message) => openConversation(conversation, { message }),
  hrefFor,
});

const mute = new MuteButton({
  save: (id, muted) => api.muteConversation(id, muted),
  onSaved: (summary) => state.store.applySummary(summary),
});

const switcher = new CommunitySwitcher({
  fetchCommunities: () => api.communities(),
  communities: config.communities,
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

// History

const histories = new HistoryLoader({
  api,
  thread,
  onLoaded: (store) => {
    if (store === state.store) markVisibleRead();
  },
  onError: () => composer.setError(t("thread.loadError")),
  onGone: (store, id) => {
    if (store !== state.store) return;
    store.conversations.delete(id);
    if (state.current.id === id) closeThread({ replace: true });
  },
});

const nav = new Navigator({
  state,
  me: config.me,
  views: { list, thread, composer, picker, mute },
  histories,
  markRead: () => markVisibleRead(),
});
const openConversation = (id, options) => nav.openConversation(id, options);
const openDraft = (options) => nav.openDraft(options);
const closeThread = (options) => nav.closeThread(options);
const applyRoute = (route, replace) => nav.apply(route, replace);
const renderMute = () => nav.renderMute();
const loadHistory = (id) => histories.load(state.store, id);
const loadOlder = () => {
  const id = thread.conversationId();
  if (id !== null) histories.older(state.store, id);
};

// Sending, reading, typing

async function sendMessage(body, attachments = []) {
  const store = state.store;
  composer.setError("");
  let frame;
  if (state.current.type === "conversation") {
    frame = store.send({ body, conversation: state.current.id, attachments });
  } else if (state.current.type === "draft") {
    const to = await picker.resolve();
    if (!to) return false;
    const existing = store.findByParticipants([config.me, ...to]);
    if (existing) {
      frame = store.send({ body, conversation: existing.id, attachments });
      openConversation(existing.id, { replace: true });
    } else {
      frame = store.send({ body, to, attachments });
    }
  } else {
    return false;
  }
  state.connection?.send(frame);
  return true;
}

/** An edit or a deletion: applied when the server's `message.updated` comes back. */
function sendChange(frame) {
  composer.setError("");
  if (!state.connection?.send(frame)) composer.setError(t("status.offline"));
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
    notifyHidden({
      store,
      messages: result.fresh,
      showText: state.preferences?.email_include_text !== false,
      hrefFor,
      onOpen: (id) => openConversation(id),
    });
    markVisibleRead();
  }
  if (result.error) {
    console.warn("server error frame", result.error.code);
    const shown = ["rate_limited", "edit_window_closed", "not_allowed", "not_found"];
    if (shown.includes(result.error.code)) composer.setError(errorText(result.error.code));
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

// Community

async function startCommunity(slug) {
  state.connection?.stop();
  state.slug = slug;
  localStorage.setItem("voisins.community", slug);
  switcher.setCurrent(slug);
  // The community just left may have been read meanwhile: count again.
  if (state.store) switcher.refresh();
  composer.clearAttachments();
  const { store, items } = await openCommunityStore({ me: config.me, slug });
  if (state.slug !== slug) return;
  state.store = store;
  store.subscribe((change) => {
    if (store !== state.store) return;
    list.render();
    updateTitle();
    renderMute();
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
  search.bind(store);
  // Sends an earlier page left unacknowledged: shown at once, resent on open.
  store.restorePending(items);
  renderStatus(statusNode, "connecting");
  const data = await fetchCommunity(slug, {
    onOffline: () => renderStatus(statusNode, "offline"),
    isCurrent: () => store === state.store,
  });
  if (!data || store !== state.store) return;
  store.setMembers(data.members);
  store.loadConversations(data.conversations);
  const connection = new Connection({
    url: socketUrl(location, slug),
    onFrame,
    onOpen,
    onStatus: (status) => {
      renderStatus(statusNode, status);
      if (status === "offline" && connection.attempt >= 2) probeAccess(state.slug);
    },
    onGiveUp: () => probeAccess(state.slug),
  });
  state.connection = connection;
  connection.connect();
  applyRoute(routeFromLocation(), true);
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

setUpNotifications({
  onRefresh: () => switcher.refresh(),
  onOpenUrl: (href) => {
    try {
      const url = new URL(href, location.origin);
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
  switcher.start();
}
