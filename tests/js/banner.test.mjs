import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { setLanguage, t } from "../../frontend/js/i18n.js";
import { emailBannerShown } from "../../frontend/js/views/banner.js";

afterEach(() => setLanguage("fr"));

describe("email banner", () => {
  it("shows while the address bounces, and only then", () => {
    assert.equal(emailBannerShown({ email_status: "bouncing" }), true);
    assert.equal(emailBannerShown({ email_status: "ok" }), false);
    assert.equal(emailBannerShown({}), false);
    assert.equal(emailBannerShown(null), false);
  });

  it("names the address, in French and in English", () => {
    assert.match(t("banner.bouncing", { email: "bob@example.org" }), /bob@example\.org/);
    assert.equal(t("banner.confirm"), "C’est bien mon adresse");
    setLanguage("en");
    assert.match(t("banner.bouncing", { email: "bob@example.org" }), /^Emails sent to bob@example\.org/);
    assert.equal(t("banner.confirm"), "This is my address");
  });
});
