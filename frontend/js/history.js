// A conversation's history over HTTP (GET /api/conversations/<id>/messages/):
// the latest page when it opens, older pages on scroll, and for a search
// result, pages until the message is there.

const HISTORY_PAGE = 50;
// Seeking a search result: big pages, and a bound on how far back to go.
const SEEK_PAGE = 200;
const SEEK_PAGES_MAX = 50;

export class HistoryLoader {
  /** `onError()`: a page failed; `onGone(id)`: the conversation is not (or no longer) ours. */
  constructor({ api, thread, onLoaded, onError, onGone }) {
    this.api = api;
    this.thread = thread;
    this.onLoaded = onLoaded;
    this.onError = onError;
    this.onGone = onGone;
    this.loading = new Map();
  }

  /** The latest page, once per conversation and store (a second call waits for the first). */
  load(store, id) {
    const conversation = store.ensureConversation(id);
    if (conversation.history === "loading") return this.loading.get(conversation) ?? Promise.resolve();
    if (conversation.history !== "none") return Promise.resolve();
    conversation.history = "loading";
    const done = this.fetchLatest(store, conversation).finally(() => this.loading.delete(conversation));
    this.loading.set(conversation, done);
    return done;
  }

  async fetchLatest(store, conversation) {
    this.thread.setLoading(true);
    try {
      const page = await this.api.messages(conversation.id, { limit: HISTORY_PAGE });
      store.loadHistory(conversation.id, page, HISTORY_PAGE);
      this.onLoaded(store);
    } catch (error) {
      conversation.history = "none";
      if (error?.status === 404) this.onGone(store, conversation.id);
      else this.onError();
    } finally {
      this.thread.setLoading(false);
    }
  }

  async older(store, id) {
    const conversation = store.conversations.get(id);
    if (!conversation || conversation.history !== "partial" || this.thread.loading) return;
    this.thread.setLoading(true);
    try {
      const page = await this.api.messages(id, {
        before: conversation.oldestHistoryId,
        limit: HISTORY_PAGE,
      });
      store.loadHistory(id, page, HISTORY_PAGE);
    } catch {
      this.onError();
    } finally {
      this.thread.setLoading(false);
    }
  }

  /** Load until the conversation holds `messageId`; true when it does. */
  async seek(store, id, messageId) {
    await this.load(store, id);
    for (let page = 0; page < SEEK_PAGES_MAX; page += 1) {
      const conversation = store.conversations.get(id);
      if (!conversation || conversation.messages.has(messageId)) break;
      if (conversation.history !== "partial") break;
      try {
        const older = await this.api.messages(id, {
          before: conversation.oldestHistoryId,
          limit: SEEK_PAGE,
        });
        store.loadHistory(id, older, SEEK_PAGE);
      } catch {
        this.onError();
        break;
      }
    }
    return Boolean(store.conversations.get(id)?.messages.has(messageId));
  }
}
