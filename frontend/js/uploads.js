// Uploading a photo or a document before it is sent with a message
// (POST /api/communities/<slug>/attachments/, multipart, one `file`).
// XMLHttpRequest rather than fetch: only it reports upload progress.

import { ApiError, csrfToken } from "./api.js";

export const MAX_ATTACHMENTS = 10;
const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];

/** "photo" or "document", from what the browser says (the server judges the content). */
export function attachmentKind(file) {
  return PHOTO_TYPES.includes(file.type) ? "photo" : "document";
}

/**
 * Start uploading `file`. Returns `{ promise, abort }`: the promise gives the
 * attachment object, or rejects with an ApiError (`too_large`,
 * `unsupported_type`, `network`, `aborted`...). `onProgress(fraction)`.
 */
export function uploadFile({
  slug,
  file,
  onProgress = () => {},
  maxBytes = Infinity,
  XHR = globalThis.XMLHttpRequest,
  FormDataImpl = globalThis.FormData,
}) {
  if (file.size > maxBytes) {
    return { promise: Promise.reject(new ApiError(413, "too_large", "")), abort: () => {} };
  }
  const xhr = new XHR();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", `/api/communities/${encodeURIComponent(slug)}/attachments/`);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status === 201 && data) {
        onProgress(1);
        resolve(data);
      } else {
        reject(new ApiError(xhr.status, data?.code ?? "http_error", data?.detail ?? ""));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", ""));
    xhr.onabort = () => reject(new ApiError(0, "aborted", ""));
    const form = new FormDataImpl();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
