// One message bubble: sender, body (or "Message supprimé"), photos and
// documents, time, "modifié", and for one's own messages the options button
// or the inline edit form. Text goes in as text nodes only (dom.js).

import { formatFullTime, formatSize, formatTime, t } from "../i18n.js";
import { h } from "./dom.js";

const THUMBNAIL_MAX_PX = 240;

/** The size a thumbnail is laid out at before it loads (no jump on arrival). */
export function thumbnailSize({ width, height }) {
  if (!width || !height) return { width: THUMBNAIL_MAX_PX, height: THUMBNAIL_MAX_PX };
  const scale = Math.min(1, THUMBNAIL_MAX_PX / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

export const isPhoto = (attachment) => Boolean(attachment.thumbnail_url);

function photo(attachment, onOpenPhoto) {
  const size = thumbnailSize(attachment);
  return h(
    "button",
    {
      type: "button",
      class: "photo",
      "aria-label": t("attach.open", { name: attachment.name }),
      onclick: (event) => onOpenPhoto(attachment, event.currentTarget),
    },
    h("img", {
      src: attachment.thumbnail_url,
      alt: "",
      width: size.width,
      height: size.height,
      loading: "lazy",
      decoding: "async",
    }),
  );
}

function documentLink(attachment) {
  const size = formatSize(attachment.size);
  return h(
    "a",
    {
      class: "document",
      href: attachment.url,
      download: attachment.name,
      "aria-label": t("attach.download", { name: attachment.name, size }),
    },
    h("span", { "aria-hidden": "true", text: "📄" }),
    h("span", { class: "document-name", text: attachment.name }),
    h("span", { class: "document-size", text: size }),
  );
}

/** Photos as thumbnails that open the viewer; documents as download links. */
export function attachmentList(attachments, onOpenPhoto) {
  if (!attachments?.length) return null;
  return h(
    "ul",
    { class: "attachments" },
    attachments.map((attachment) =>
      h(
        "li",
        {},
        isPhoto(attachment) ? photo(attachment, onOpenPhoto) : documentLink(attachment),
      ),
    ),
  );
}

function editForm(message, { onSave, onCancel }) {
  const id = `edit-${message.id}`;
  const input = h("textarea", { id, rows: 2, maxlength: 5000, class: "edit-input" });
  input.value = message.body;
  const save = () => {
    const body = input.value.trim();
    if (!body || body === message.body) onCancel();
    else onSave(message.id, body);
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      save();
    }
  });
  return h(
    "form",
    {
      class: "edit",
      onsubmit: (event) => {
        event.preventDefault();
        save();
      },
    },
    h("label", { for: id, class: "visually-hidden", text: t("message.editLabel") }),
    input,
    h(
      "div",
      { class: "edit-actions" },
      h("button", { type: "button", class: "quiet", text: t("message.cancel"), onclick: onCancel }),
      h("button", { type: "submit", class: "primary", text: t("message.save") }),
    ),
  );
}

function body(message) {
  if (message.deleted) {
    return h("p", { class: "body deleted", text: t("message.deleted") });
  }
  return message.body ? h("p", { class: "body", text: message.body }) : null;
}

function storedMeta(message, { mine, onActions }) {
  const meta = h(
    "div",
    { class: "meta" },
    h("time", {
      datetime: message.sent_at,
      title: formatFullTime(message.sent_at),
      text: formatTime(message.sent_at),
    }),
  );
  if (message.edited_at && !message.deleted) {
    meta.append(
      h("span", {
        class: "edited",
        title: t("message.editedAt", { date: formatFullTime(message.edited_at) }),
        text: t("message.edited"),
      }),
    );
  }
  meta.append(h("span", { class: "receipt" }));
  if (mine && !message.deleted) {
    meta.append(
      h(
        "button",
        {
          type: "button",
          class: "message-actions",
          "aria-haspopup": "menu",
          "aria-expanded": "false",
          "aria-label": t("message.actions"),
          onclick: (event) => onActions(message, event.currentTarget),
        },
        h("span", { "aria-hidden": "true", text: "⋯" }),
      ),
    );
  }
  return meta;
}

function pendingMeta(item, onRetry) {
  const meta = h("div", { class: "meta" });
  if (item.status === "failed") {
    meta.append(
      h("span", { class: "state", text: `${t("message.failed")} · ${errorText(item.error)}` }),
      h("button", {
        type: "button",
        class: "link retry",
        text: t("message.retry"),
        onclick: () => onRetry(item.clientId),
      }),
    );
  } else {
    meta.append(h("span", { class: "state", text: t("message.pending") }));
  }
  return meta;
}

/**
 * The list item of a stored `message` or a pending send `item`. `handlers`:
 * onRetry, onActions(message, button), onOpenPhoto(attachment, button),
 * onSave(id, body), onCancel().
 */
export function messageItem(shown, handlers) {
  const { key, sig, message, item, mine, sender, showSender, editing, found } = shown;
  const classes = ["message", mine ? "mine" : "theirs"];
  if (item) classes.push(item.status);
  if (message?.deleted) classes.push("is-deleted");
  if (found) classes.push("found");
  const source = message ?? item;
  const content = editing
    ? [editForm(message, handlers)]
    : [body(source), attachmentList(source.attachments, handlers.onOpenPhoto)];
  const meta = message
    ? storedMeta(message, { mine, onActions: handlers.onActions })
    : pendingMeta(item, handlers.onRetry);
  const id = message ? String(message.id) : undefined;
  return h(
    "li",
    { class: classes.join(" "), dataset: { key, sig, id } },
    h("p", { class: showSender ? "sender" : "sender visually-hidden", text: sender }),
    ...content,
    meta,
  );
}

export function errorText(code, params = {}) {
  const key = `error.${code}`;
  const text = t(key, params);
  return text === key ? t("error.other") : text;
}
