// The community socket: frame parsing, backoff, and one connection that keeps
// itself alive. No DOM: the WebSocket class and timers are injected, so Node
// tests can drive it with fakes.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
export const CLOSE_REVOKED = 4403;

/**
 * Delay before reconnection attempt number `attempt` (0 for the first):
 * exponential, capped, with "equal jitter" so that a whole neighbourhood
 * whose server restarted does not come back in the same millisecond.
 */
export function backoffDelay(
  attempt,
  { base = BACKOFF_BASE_MS, cap = BACKOFF_CAP_MS, random = Math.random } = {},
) {
  const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

function isId(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

function isMessage(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    isId(value.id) &&
    isId(value.conversation) &&
    typeof value.sender === "string" &&
    typeof value.body === "string" &&
    Array.isArray(value.participants)
  );
}

/**
 * Parse one server frame. Returns `{ frame }` for a known, well-formed frame,
 * or `{ error }` saying why it was rejected: unknown types are never guessed at.
 */
export function parseServerFrame(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return { error: "invalid_json" };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { error: "not_object" };
  }
  let valid;
  switch (data.type) {
    case "message.ack":
      valid =
        typeof data.client_id === "string" &&
        isMessage(data.message) &&
        (data.messages === undefined ||
          (Array.isArray(data.messages) && data.messages.every(isMessage)));
      break;
    case "message.new":
    case "message.updated":
      valid = isMessage(data.message);
      break;
    case "receipt":
      valid =
        isId(data.conversation) && typeof data.user === "string" && isId(data.up_to);
      break;
    case "typing":
      valid = isId(data.conversation) && typeof data.user === "string";
      break;
    case "sync.batch":
      valid =
        Array.isArray(data.messages) &&
        data.messages.every(isMessage) &&
        typeof data.more === "boolean" &&
        (data.changed === undefined ||
          (Array.isArray(data.changed) && data.changed.every(isMessage)));
      break;
    case "pong":
      valid = true;
      break;
    case "error":
      valid = typeof data.code === "string";
      break;
    default:
      return { error: "unknown_type" };
  }
  return valid ? { frame: data } : { error: "malformed" };
}

/** The socket URL for a community, on the page's own host. */
export function socketUrl(location, slug) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/communities/${encodeURIComponent(slug)}/`;
}

/**
 * One resident's socket in one community. Reconnects after any drop with
 * capped exponential backoff plus jitter; `onOpen` is where the caller syncs.
 *
 * Status values: "connecting", "online", "offline", "revoked".
 */
export class Connection {
  constructor({
    url,
    WebSocketImpl = globalThis.WebSocket,
    timers = globalThis,
    random = Math.random,
    onFrame = () => {},
    onOpen = () => {},
    onStatus = () => {},
    onRejected = () => {},
    onGiveUp = () => {},
  }) {
    this.url = url;
    this.WebSocketImpl = WebSocketImpl;
    this.timers = timers;
    this.random = random;
    this.onFrame = onFrame;
    this.onOpen = onOpen;
    this.onStatus = onStatus;
    this.onRejected = onRejected;
    this.onGiveUp = onGiveUp;
    this.ws = null;
    this.attempt = 0;
    this.status = "offline";
    this.stopped = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }

  /** Open the socket (no-op while one is open or opening). */
  connect() {
    if (this.stopped || this.ws) return;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setStatus(this.attempt === 0 ? "connecting" : this.status);
    const ws = new this.WebSocketImpl(this.url);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.setStatus("online");
      this.schedulePing();
      this.onOpen();
    };
    ws.onmessage = (event) => {
      this.schedulePing();
      const { frame, error } = parseServerFrame(event.data);
      if (frame) this.onFrame(frame);
      else this.onRejected(error, event.data);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearPing();
      if (event.code === CLOSE_REVOKED) {
        this.stopped = true;
        this.setStatus("revoked");
        this.onGiveUp(event.code);
        return;
      }
      this.scheduleReconnect(opened);
    };
    ws.onerror = () => {};
  }

  scheduleReconnect(wasOpen) {
    if (this.stopped) return;
    this.setStatus("offline");
    const delay = backoffDelay(this.attempt, { random: this.random });
    this.attempt += 1;
    this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    return { delay, wasOpen };
  }

  /** Try now rather than wait for the backoff (the network came back). */
  reconnectNow() {
    if (this.stopped || this.ws) return;
    this.connect();
  }

  /** Send a frame if the socket is open; false means the caller keeps it. */
  send(frame) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Close for good (switching community, leaving the page). */
  stop() {
    this.stopped = true;
    this.timers.clearTimeout(this.retryTimer);
    this.clearPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
  }

  schedulePing() {
    this.clearPing();
    this.pingTimer = this.timers.setTimeout(() => {
      if (!this.send({ type: "ping" })) return;
      // A phone that lost its network often never sees the close: a missing
      // pong is how we find out.
      this.pongTimer = this.timers.setTimeout(() => this.drop(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  clearPing() {
    this.timers.clearTimeout(this.pingTimer);
    this.timers.clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
  }

  /** Abandon a socket that stopped answering, then reconnect. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    this.clearPing();
    try {
      ws.close(4000);
    } catch {
      // Already closing: nothing to do.
    }
    this.scheduleReconnect(true);
  }
}
