// The composer's attachments: the picker button, and a tray with each file's
// preview (the photo itself, or the document's name), its upload progress
// and a button to remove it before sending.

import { formatSize, t } from "../i18n.js";
import { attachmentKind, MAX_ATTACHMENTS } from "../uploads.js";
import { byId, h } from "./dom.js";
import { errorText } from "./message.js";

/** A small preview of a photo as a data: URL (the page's CSP allows data: images, not blob:). */
function readPreview(file) {
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(file);
  });
}

export class AttachmentTray {
  /** `upload(file, onProgress)` returns `{ promise, abort }` (uploads.js). */
  constructor({ upload, maxBytes, onChange }) {
    this.upload = upload;
    this.maxBytes = maxBytes;
    this.onChange = onChange;
    this.tray = byId("attachment-tray");
    this.button = byId("attach-button");
    this.input = byId("attach-input");
    this.entries = [];
    this.seq = 0;
    this.button.addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", () => {
      this.add([...this.input.files]);
      this.input.value = "";
    });
  }

  add(files) {
    const room = MAX_ATTACHMENTS - this.entries.length;
    if (files.length > room) this.onChange(t("attach.tooMany", { n: MAX_ATTACHMENTS }));
    for (const file of files.slice(0, Math.max(room, 0))) this.start(file);
    this.render();
  }

  start(file) {
    const entry = {
      key: ++this.seq,
      name: file.name,
      size: file.size,
      kind: attachmentKind(file),
      progress: 0,
      status: "uploading",
      attachment: null,
      error: null,
      preview: null,
      node: null,
    };
    if (entry.kind === "photo") {
      readPreview(file).then((url) => {
        entry.preview = url;
        this.renderEntry(entry);
      });
    }
    const upload = this.upload(file, (fraction) => {
      entry.progress = fraction;
      const bar = entry.node?.querySelector("progress");
      if (bar) bar.value = Math.round(fraction * 100);
    });
    entry.abort = upload.abort;
    upload.promise.then(
      (attachment) => {
        entry.status = "done";
        entry.attachment = attachment;
        this.renderEntry(entry);
        this.onChange("");
      },
      (error) => {
        if (error.code === "aborted") return;
        entry.status = "failed";
        entry.error = errorText(error.code, { max: formatSize(this.maxBytes) });
        this.renderEntry(entry);
      },
    );
    this.entries.push(entry);
  }

  remove(entry) {
    if (entry.status === "uploading") entry.abort();
    this.entries = this.entries.filter((other) => other !== entry);
    this.render();
    this.button.focus();
  }

  /** Uploads still running. */
  busy() {
    return this.entries.some((entry) => entry.status === "uploading");
  }

  /** The uploaded attachment objects, in the order chosen. */
  attachments() {
    return this.entries.filter((entry) => entry.status === "done").map((entry) => entry.attachment);
  }

  clear() {
    for (const entry of this.entries) if (entry.status === "uploading") entry.abort();
    this.entries = [];
    this.render();
  }

  render() {
    for (const entry of this.entries) if (!entry.node) this.renderEntry(entry, false);
    this.tray.replaceChildren(...this.entries.map((entry) => entry.node));
    this.tray.hidden = this.entries.length === 0;
  }

  renderEntry(entry, replace = true) {
    const preview =
      entry.kind === "photo" && entry.preview
        ? h("img", { class: "preview", src: entry.preview, alt: "" })
        : h("span", {
            class: "preview doc",
            "aria-hidden": "true",
            text: entry.kind === "photo" ? "📷" : "📄",
          });
    let state;
    if (entry.status === "uploading") {
      state = h("progress", {
        max: 100,
        value: Math.round(entry.progress * 100),
        "aria-label": t("attach.uploading", { name: entry.name }),
      });
    } else if (entry.status === "failed") {
      state = h("span", {
        class: "alert",
        role: "alert",
        text: t("attach.failed", { name: entry.name, reason: entry.error }),
      });
    } else {
      state = h("span", { class: "visually-hidden", text: t("attach.done", { name: entry.name }) });
    }
    const node = h(
      "li",
      { class: `tray-item ${entry.status}` },
      preview,
      h("span", { class: "tray-name", text: entry.name }),
      h("span", { class: "tray-size", text: formatSize(entry.size) }),
      state,
      h(
        "button",
        {
          type: "button",
          class: "tray-remove",
          "aria-label": t("attach.remove", { name: entry.name }),
          onclick: () => this.remove(entry),
        },
        h("span", { "aria-hidden": "true", text: "×" }),
      ),
    );
    if (replace && entry.node?.isConnected) entry.node.replaceWith(node);
    entry.node = node;
  }
}
