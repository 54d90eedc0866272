// The banner asking the resident to check their email address while
// notification emails to it fail for good (email_status "bouncing"), with a
// button that says it is right (POST /api/me/email/confirm/).

import { t } from "../i18n.js";
import { h } from "./dom.js";

/** Whether preferences (GET /api/me/preferences/) call for the banner. */
export function emailBannerShown(prefs) {
  return prefs?.email_status === "bouncing";
}

export class EmailBanner {
  /** `after`: the node the banner follows; `confirm`: resolves once saved. */
  constructor({ after, email, confirm }) {
    this.confirm = confirm;
    this.text = h("p", { class: "email-banner-text" });
    this.error = h("p", { class: "alert", role: "alert", hidden: true });
    this.button = h("button", { type: "button", onclick: () => this.confirmAddress() });
    this.email = email;
    this.node = h(
      "section",
      { class: "email-banner", "aria-live": "polite", hidden: true },
      this.text,
      this.button,
      this.error,
    );
    after.after(this.node);
  }

  update(prefs) {
    const shown = emailBannerShown(prefs);
    this.node.hidden = !shown;
    if (!shown) return;
    this.text.textContent = t("banner.bouncing", { email: this.email || "?" });
    this.button.textContent = t("banner.confirm");
    this.error.hidden = true;
  }

  async confirmAddress() {
    this.button.disabled = true;
    try {
      this.update(await this.confirm());
    } catch {
      this.error.textContent = t("banner.error");
      this.error.hidden = false;
    } finally {
      this.button.disabled = false;
    }
  }
}
