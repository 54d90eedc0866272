// The community switcher's unread counts: each other community's option says
// how many messages wait there, and a badge beside the menu gives their sum.
// The counts come from GET /api/communities/ (`unread`): on load, every
// REFRESH_MS while the tab is visible, when it comes back to the front, and
// when a push arrives (the service worker says so).

import { t } from "../i18n.js";
import { byId } from "./dom.js";

export const REFRESH_MS = 15_000;

/** Unread messages in the communities other than `current`. */
export function unreadElsewhere(communities, current) {
  return communities
    .filter((community) => community.slug !== current)
    .reduce((sum, community) => sum + (community.unread ?? 0), 0);
}

export class CommunitySwitcher {
  constructor({ fetchCommunities, communities }) {
    this.fetchCommunities = fetchCommunities;
    this.select = byId("community-select");
    this.badge = byId("community-unread");
    this.count = byId("community-unread-count");
    this.text = byId("community-unread-text");
    this.communities = communities;
    this.current = null;
    this.timer = null;
  }

  /** Only a resident of several communities has a switcher. */
  get shown() {
    return this.select !== null;
  }

  setCurrent(slug) {
    this.current = slug;
    this.render();
  }

  start() {
    if (!this.shown) return;
    this.render();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.refresh();
    });
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if (document.visibilityState === "visible") await this.refresh();
      this.schedule();
    }, REFRESH_MS);
  }

  async refresh() {
    if (!this.shown) return;
    try {
      this.communities = await this.fetchCommunities();
    } catch {
      return;
    }
    this.render();
  }

  render() {
    if (!this.shown) return;
    const unread = new Map(this.communities.map((c) => [c.slug, c.unread ?? 0]));
    for (const option of this.select.options) {
      const name = option.dataset.name ?? option.textContent;
      const n = option.value === this.current ? 0 : (unread.get(option.value) ?? 0);
      const text = n ? `${name} (${t("communities.unread", { n })})` : name;
      if (option.textContent !== text) option.textContent = text;
    }
    const elsewhere = unreadElsewhere(this.communities, this.current);
    this.badge.hidden = elsewhere === 0;
    this.count.textContent = String(elsewhere);
    this.text.textContent = elsewhere ? t("communities.elsewhere", { n: elsewhere }) : "";
  }
}
