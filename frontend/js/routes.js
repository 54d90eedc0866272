// The app's URLs: /?community=<slug>&conversation=<id>[&message=<id>], or
// &new=1 for a new message.

export function hrefFor(slug, conversation) {
  const params = new URLSearchParams({ community: slug });
  if (conversation !== undefined) params.set("conversation", String(conversation));
  return `/?${params}`;
}

export function routeFrom(search) {
  const params = new URLSearchParams(search);
  const id = (name) => {
    const value = Number(params.get(name) ?? NaN);
    return Number.isSafeInteger(value) && value > 0 ? value : null;
  };
  return {
    community: params.get("community"),
    conversation: id("conversation"),
    message: id("message"),
    draft: params.get("new") === "1",
  };
}

/** Change the address bar without reloading (replace: no new history entry). */
export function setUrl(url, replace) {
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}
