import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { CATALOGUE } from "../../frontend/js/catalogue.js";
import { setLanguage } from "../../frontend/js/i18n.js";
import { routeFrom, hrefFor } from "../../frontend/js/routes.js";
import { attachmentKind, uploadFile } from "../../frontend/js/uploads.js";
import { actorText, eraseErrorText, eventText } from "../../frontend/js/views/account.js";
import { unreadElsewhere } from "../../frontend/js/views/communities.js";
import { previewText } from "../../frontend/js/views/conversationList.js";
import { thumbnailSize } from "../../frontend/js/views/message.js";
import { ApiError } from "../../frontend/js/api.js";

afterEach(() => setLanguage("fr"));

/** An XMLHttpRequest double: records the request, answers when told. */
class FakeXHR {
  static last = null;
  constructor() {
    this.headers = {};
    this.upload = {};
    FakeXHR.last = this;
  }
  open(method, url) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    this.body = body;
  }
  abort() {
    this.onabort();
  }
  answer(status, data) {
    this.status = status;
    this.responseText = JSON.stringify(data);
    this.onload();
  }
}

class FakeForm {
  constructor() {
    this.parts = [];
  }
  append(...part) {
    this.parts.push(part);
  }
}

const upload = (file, extra = {}) =>
  uploadFile({ slug: "bourg centre", file, XHR: FakeXHR, FormDataImpl: FakeForm, ...extra });

describe("uploads", () => {
  it("posts one multipart file with the CSRF header and reports progress", async () => {
    const seen = [];
    const file = { name: "chat.jpg", size: 1000, type: "image/jpeg" };
    const { promise } = upload(file, { onProgress: (f) => seen.push(f) });
    const xhr = FakeXHR.last;
    assert.equal(xhr.method, "POST");
    assert.equal(xhr.url, "/api/communities/bourg%20centre/attachments/");
    assert.ok("X-CSRFToken" in xhr.headers);
    assert.deepEqual(xhr.body.parts, [["file", file, "chat.jpg"]]);
    xhr.upload.onprogress({ lengthComputable: true, loaded: 250, total: 1000 });
    xhr.answer(201, { id: 55, name: "chat.jpg" });
    assert.deepEqual(await promise, { id: 55, name: "chat.jpg" });
    assert.deepEqual(seen, [0.25, 1]);
  });

  it("rejects with the contract's error code", async () => {
    const { promise } = upload({ name: "x.exe", size: 10, type: "" });
    FakeXHR.last.answer(400, { code: "unsupported_type", detail: "No." });
    await assert.rejects(promise, (error) => error.code === "unsupported_type" && error.status === 400);
  });

  it("refuses a file over the limit before sending anything", async () => {
    FakeXHR.last = null;
    const { promise } = upload({ name: "big.jpg", size: 11, type: "image/jpeg" }, { maxBytes: 10 });
    await assert.rejects(promise, (error) => error.code === "too_large");
    assert.equal(FakeXHR.last, null);
  });

  it("can be aborted (a file removed before sending)", async () => {
    const { promise, abort } = upload({ name: "a.pdf", size: 5, type: "application/pdf" });
    abort();
    await assert.rejects(promise, (error) => error.code === "aborted");
  });

  it("tells photos from documents by the declared type", () => {
    assert.equal(attachmentKind({ type: "image/webp" }), "photo");
    assert.equal(attachmentKind({ type: "application/pdf" }), "document");
    assert.equal(attachmentKind({ type: "" }), "document");
  });
});

describe("message pieces", () => {
  it("lays a thumbnail out at its final size, at most 240 px", () => {
    assert.deepEqual(thumbnailSize({ width: 1600, height: 1200 }), { width: 240, height: 180 });
    assert.deepEqual(thumbnailSize({ width: 100, height: 50 }), { width: 100, height: 50 });
    assert.deepEqual(thumbnailSize({ width: null, height: null }), { width: 240, height: 240 });
  });

  it("previews a deleted message, and one with files but no text", () => {
    assert.equal(previewText({ deleted: true, body: "", attachments: [] }), "Message supprimé");
    const photo = { thumbnail_url: "/api/attachments/1/thumbnail/" };
    assert.equal(previewText({ body: "", attachments: [photo] }), "📷 Photo");
    assert.equal(previewText({ body: "", attachments: [{ thumbnail_url: null }] }), "📄 Document");
    assert.equal(previewText({ body: "x".repeat(200), attachments: [] }).length, 141);
  });
});

describe("routes", () => {
  it("round-trips a conversation opened at a message", () => {
    const href = `${hrefFor("bourg-centre", 37)}&message=812`;
    assert.deepEqual(routeFrom(href.slice(1)), {
      community: "bourg-centre",
      conversation: 37,
      message: 812,
      draft: false,
    });
    assert.equal(routeFrom("?conversation=-3&message=x").conversation, null);
  });
});

describe("communities", () => {
  it("sums the unread messages of the other communities", () => {
    const list = [
      { slug: "a", unread: 3 },
      { slug: "b", unread: 2 },
      { slug: "c" },
    ];
    assert.equal(unreadElsewhere(list, "a"), 2);
    assert.equal(unreadElsewhere(list, "b"), 3);
  });
});

describe("account history", () => {
  it("names who made a change", () => {
    assert.equal(actorText("self"), "par vous");
    assert.equal(actorText("operator"), "par l’équipe technique");
    assert.equal(actorText("staff:marie"), "par marie (administration)");
    setLanguage("en");
    assert.equal(actorText("staff:marie"), "by marie (administration)");
  });

  it("says what changed, with the detail", () => {
    const event = { kind: "email_changed", detail: "a***@e***.org" };
    assert.equal(eventText(event), "Adresse e-mail changée : a***@e***.org");
    assert.equal(eventText({ kind: "password_changed", detail: "" }), "Mot de passe changé");
  });

  it("explains an erasure that failed", () => {
    assert.equal(eraseErrorText(new ApiError(403, "forbidden", "")), "Mot de passe incorrect.");
    assert.equal(eraseErrorText(new ApiError(400, "bad_request", "")), "Mot de passe incorrect.");
    assert.match(eraseErrorText(new ApiError(404, "not_found", "")), /pas encore disponible/);
    assert.match(eraseErrorText(new ApiError(429, "rate_limited", "")), /Trop de mots de passe/);
    assert.match(eraseErrorText(new Error("network")), /n’a pas abouti/);
  });
});

describe("catalogue", () => {
  it("has every French text in English too, and no English-only key", () => {
    assert.deepEqual(Object.keys(CATALOGUE.en).sort(), Object.keys(CATALOGUE.fr).sort());
  });
});
