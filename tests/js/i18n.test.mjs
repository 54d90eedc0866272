import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { formatList, formatTime, setLanguage, t } from "../../frontend/js/i18n.js";

afterEach(() => setLanguage("fr"));

describe("i18n", () => {
  it("speaks French by default and English on request", () => {
    assert.equal(t("message.read"), "Lu");
    setLanguage("en");
    assert.equal(t("message.read"), "Read");
  });

  it("falls back to French for an unknown language", () => {
    assert.equal(setLanguage("de"), "fr");
    assert.equal(t("message.retry"), "Réessayer");
  });

  it("fills parameters and plurals", () => {
    assert.equal(t("list.unread", { n: 1 }), "1 non lu");
    assert.equal(t("list.unread", { n: 3 }), "3 non lus");
    assert.equal(t("typing.one", { name: "Bob" }), "Bob écrit…");
  });

  it("names the privacy page in both languages", () => {
    assert.equal(t("account.privacy"), "Confidentialité et données personnelles");
    setLanguage("en");
    assert.equal(t("account.privacy"), "Privacy and personal data");
  });

  it("joins names as the language does", () => {
    assert.equal(formatList(["Bob", "Carole", "David"]), "Bob, Carole et David");
    setLanguage("en");
    assert.equal(formatList(["Bob", "Carole", "David"]), "Bob, Carole, and David");
  });

  it("shows the hour today and the date otherwise", () => {
    const now = new Date(2026, 10, 26, 18, 0);
    const today = new Date(2026, 10, 26, 9, 5).toISOString();
    const earlier = new Date(2026, 10, 20, 9, 5).toISOString();
    assert.equal(formatTime(today, now), "09:05");
    assert.match(formatTime(earlier, now), /20 nov/);
    assert.equal(formatTime("garbage", now), "");
  });
});
