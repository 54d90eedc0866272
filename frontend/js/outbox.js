// What survives a reload or a browser restart, per resident and community:
// the pending sends (IndexedDB: a tab may be closed between the write and
// the ack) and the sync cursor (localStorage: two numbers).

const DB_NAME = "voisins";
const DB_VERSION = 1;
const STORE = "pending";
const CURSOR_PREFIX = "voisins.cursor";
// Some browsers leave an open request hanging (private modes, a blocked
// upgrade): past this, the page goes on without the outbox.
const OPEN_WITHIN_MS = 3_000;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function openDatabase(factory) {
  const request = factory.open(DB_NAME, DB_VERSION);
  request.onupgradeneeded = () => {
    const store = request.result.createObjectStore(STORE, {
      keyPath: ["me", "community", "clientId"],
    });
    store.createIndex("owner", ["me", "community"]);
  };
  return promised(request);
}

/** An outbox that keeps nothing (no IndexedDB: private mode, old browser). */
function memoryOnly() {
  return { items: [], put: async () => {}, delete: async () => {} };
}

/**
 * The resident's outbox in one community: `items` (the sends an earlier page
 * left pending), `put(item)` and `delete(clientId)`, each resolving once
 * written. Never rejects: without storage, sends still work for this page.
 */
export async function openOutbox({
  me,
  community,
  indexedDB = globalThis.indexedDB,
  within = OPEN_WITHIN_MS,
}) {
  if (!indexedDB) return memoryOnly();
  let db;
  let timer;
  try {
    db = await Promise.race([
      openDatabase(indexedDB),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), within);
      }),
    ]);
  } catch {
    db = null;
  } finally {
    clearTimeout(timer);
  }
  if (!db) return memoryOnly();
  const write = (change) =>
    new Promise((resolve) => {
      const transaction = db.transaction(STORE, "readwrite");
      change(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(true);
      transaction.onerror = () => resolve(false);
      transaction.onabort = () => resolve(false);
    });
  const owner = db.transaction(STORE).objectStore(STORE).index("owner");
  const items = await promised(owner.getAll([me, community]));
  return {
    items: items.sort((a, b) => a.createdAt - b.createdAt),
    put: (item) => write((store) => store.put({ ...item, me, community })),
    delete: (clientId) => write((store) => store.delete([me, community, clientId])),
  };
}

function cursorKey(me, community) {
  return `${CURSOR_PREFIX}.${me}.${community}`;
}

/** `{ lastId, maxRev }` saved by an earlier page, or null. */
export function loadCursor(storage, me, community) {
  try {
    const value = JSON.parse(storage.getItem(cursorKey(me, community)) ?? "null");
    if (Number.isSafeInteger(value?.lastId) && Number.isSafeInteger(value?.maxRev)) {
      return { lastId: value.lastId, maxRev: value.maxRev };
    }
  } catch {
    // Unreadable: start from the conversation list, as a first visit does.
  }
  return null;
}

export function saveCursor(storage, me, community, cursor) {
  try {
    storage.setItem(cursorKey(me, community), JSON.stringify(cursor));
  } catch {
    // Storage full or refused: the next page syncs from the list instead.
  }
}
