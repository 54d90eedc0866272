// The HTTP API: JSON over fetch, with the session cookie and, on writes, the
// CSRF token Django expects in X-CSRFToken.

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

let fallbackToken = "";

/** The token from the page, used when the cookie cannot be read. */
export function setCsrfToken(token) {
  fallbackToken = token || "";
}

export function csrfToken(cookie = globalThis.document?.cookie ?? "") {
  for (const part of cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return fallbackToken;
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.code ?? "http_error", data?.detail ?? "");
  }
  return data;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

const slugPath = (slug) => encodeURIComponent(slug);

export const api = {
  communities: () => request("GET", "/api/communities/"),
  members: (slug, q = "") =>
    request("GET", `/api/communities/${slugPath(slug)}/members/${query({ q })}`),
  conversations: (slug) => request("GET", `/api/communities/${slugPath(slug)}/conversations/`),
  messages: (conversation, { before, limit } = {}) =>
    request("GET", `/api/conversations/${Number(conversation)}/messages/${query({ before, limit })}`),
  muteConversation: (conversation, muted) =>
    request("PATCH", `/api/conversations/${Number(conversation)}/`, { muted }),
  search: (slug, q) => request("GET", `/api/communities/${slugPath(slug)}/search/${query({ q })}`),
  accountEvents: () => request("GET", "/api/me/account-events/"),
  erase: (password) => request("POST", "/api/me/erase/", { password }),
  preferences: () => request("GET", "/api/me/preferences/"),
  savePreferences: (changes) => request("PATCH", "/api/me/preferences/", changes),
  confirmEmail: () => request("POST", "/api/me/email/confirm/"),
  pushKey: () => request("GET", "/api/push/key/"),
  subscribePush: (subscription) => request("POST", "/api/push/subscriptions/", subscription),
  unsubscribePush: (endpoint) => request("DELETE", "/api/push/subscriptions/", { endpoint }),
};
