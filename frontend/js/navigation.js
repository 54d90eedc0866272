// Which pane shows what: a conversation (at a message, for a search
// result), a new message, or nothing; the URL follows (routes.js).

import { byId } from "./views/dom.js";
import { hrefFor, setUrl } from "./routes.js";

const isWide = () => matchMedia("(min-width: 48rem)").matches;

export class Navigator {
  /**
   * `state`: the app's (slug, store, current); `views`: list, thread,
   * composer, picker, mute; `histories`: the HistoryLoader; `markRead()`:
   * send the read mark of what is on screen.
   */
  constructor({ state, me, views, histories, markRead }) {
    this.state = state;
    this.me = me;
    this.views = views;
    this.histories = histories;
    this.markRead = markRead;
    this.layout = byId("main");
  }

  href(conversation) {
    return hrefFor(this.state.slug, conversation);
  }

  showPane(pane) {
    this.layout.dataset.view = pane;
  }

  /** Open a conversation; with `message`, at that message (a search result). */
  async openConversation(id, { replace = false, focus = true, message = null } = {}) {
    const { list, thread, composer, picker } = this.views;
    this.state.current = { type: "conversation", id };
    setUrl(message ? `${this.href(id)}&message=${message}` : this.href(id), replace);
    picker.setVisible(false);
    composer.setVisible(true);
    composer.setError("");
    list.select(id);
    thread.show(this.state.current);
    this.renderMute();
    this.showPane("thread");
    if (message) {
      await this.seekMessage(id, message);
      return;
    }
    this.histories.load(this.state.store, id);
    this.markRead();
    if (focus) (isWide() ? composer : byId("thread-title")).focus();
  }

  /** Load history until it holds `messageId`, then show it highlighted. */
  async seekMessage(id, messageId) {
    const store = this.state.store;
    const found = await this.histories.seek(store, id, messageId);
    if (store !== this.state.store || this.state.current.id !== id) return;
    if (!(found && this.views.thread.reveal(messageId))) byId("thread-title").focus();
    this.markRead();
  }

  renderMute() {
    const current = this.state.current;
    const id = current.type === "conversation" ? current.id : null;
    this.views.mute.render(id !== null ? (this.state.store.conversations.get(id) ?? null) : null);
  }

  openDraft({ replace = false } = {}) {
    const { list, thread, composer, picker, mute } = this.views;
    this.state.current = { type: "draft", participants: [this.me] };
    mute.render(null);
    setUrl(`${this.href()}&new=1`, replace);
    picker.reset(this.me);
    picker.setVisible(true);
    composer.setVisible(true);
    composer.setError("");
    list.select(null);
    thread.show(this.state.current);
    this.showPane("thread");
    picker.focus();
  }

  closeThread({ replace = false } = {}) {
    const { list, thread, composer, picker, mute } = this.views;
    this.state.current = { type: "none" };
    mute.render(null);
    setUrl(this.href(), replace);
    picker.setVisible(false);
    composer.setVisible(false);
    list.select(null);
    thread.show(this.state.current);
    this.showPane("list");
  }

  apply(route, replace) {
    if (route.conversation) {
      this.openConversation(route.conversation, { replace, focus: false, message: route.message });
    } else if (route.draft) {
      this.openDraft({ replace });
    } else {
      this.closeThread({ replace });
    }
  }
}
