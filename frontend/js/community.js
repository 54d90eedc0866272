// One community's store as a page opens it: the sync cursor and the pending
// sends an earlier page of this resident left (outbox.js), kept up to date.

import { loadCursor, openOutbox, saveCursor } from "./outbox.js";
import { Store } from "./store.js";

/** A Store for (me, slug) resuming where the last page stopped; `items`: the sends to restore. */
export async function openCommunityStore({ me, slug, storage = globalThis.localStorage }) {
  const outbox = await openOutbox({ me, community: slug });
  const store = new Store({ me, community: slug, cursor: loadCursor(storage, me, slug), outbox });
  store.subscribe(() => saveCursor(storage, me, slug, store.cursor()));
  return { store, items: outbox.items };
}
