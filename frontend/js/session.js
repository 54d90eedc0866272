// The resident's session seen from the page: is it still valid here, and
// the language switch (Django's set_language, then a reload).

import { api, ApiError, csrfToken } from "./api.js";

const PROBE_EVERY_MS = 10_000;
let lastProbe = 0;

/**
 * After failed handshakes: logged out (to the login page) or no longer a
 * member of `slug` (to the app's start)? At most once per PROBE_EVERY_MS.
 */
export async function probeAccess(slug) {
  const now = Date.now();
  if (now - lastProbe < PROBE_EVERY_MS) return;
  lastProbe = now;
  try {
    const communities = await api.communities();
    if (!communities.some((community) => community.slug === slug)) location.assign("/");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      location.assign(`/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`);
    }
  }
}

export async function changeLanguage(lang) {
  const body = new URLSearchParams({ language: lang });
  await fetch("/i18n/setlang/", {
    method: "POST",
    headers: { "X-CSRFToken": csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
    body,
    credentials: "same-origin",
  });
  location.reload();
}

/**
 * The community's members and conversations, retried with backoff while the
 * server does not answer (`onOffline` each time). Null when access is gone.
 */
export async function fetchCommunity(slug, { onOffline, isCurrent }) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const [members, conversations] = await Promise.all([
        api.members(slug),
        api.conversations(slug),
      ]);
      return { members, conversations };
    } catch (error) {
      if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
        probeAccess(slug);
        return null;
      }
      if (!isCurrent()) return null;
      onOffline();
      await new Promise((resolve) => setTimeout(resolve, Math.min(30_000, 1_000 * 2 ** attempt)));
    }
  }
}
