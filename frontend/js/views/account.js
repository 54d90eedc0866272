// The settings dialog's account part: the account history
// (GET /api/me/account-events/) and the erasure of the account
// (POST /api/me/erase/ with the password, after a dialog that says what
// happens; on 202 the resident lands on the login page).

import { ApiError } from "../api.js";
import { formatFullTime, t } from "../i18n.js";
import { byId, h } from "./dom.js";

/** Who made a change, in words: "self", "operator" or "staff:<username>". */
export function actorText(actor) {
  if (actor === "self") return t("account.actor.self");
  if (actor === "operator") return t("account.actor.operator");
  if (actor.startsWith("staff:")) return t("account.actor.staff", { name: actor.slice(6) });
  return actor;
}

export function eventText(event) {
  const kind = t(`account.kind.${event.kind}`);
  return event.detail ? t("list.from", { name: kind, text: event.detail }) : kind;
}

export class AccountSection {
  constructor({ api }) {
    this.api = api;
    this.list = byId("account-events");
    this.eraseDialog = byId("erase-dialog");
    this.eraseForm = byId("erase-form");
    this.password = byId("erase-password");
    this.error = byId("erase-error");
    this.confirm = byId("erase-confirm");
    byId("erase-open").addEventListener("click", () => this.openErase());
    byId("erase-cancel").addEventListener("click", () => this.eraseDialog.close());
    this.eraseForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.erase();
    });
    this.eraseDialog.addEventListener("close", () => {
      this.password.value = "";
      this.showError("");
      byId("erase-open").focus();
    });
  }

  async load() {
    let events;
    try {
      events = await this.api.accountEvents();
    } catch {
      this.list.replaceChildren(h("li", { class: "hint", text: t("account.loadError") }));
      return;
    }
    if (!events.length) {
      this.list.replaceChildren(h("li", { class: "hint", text: t("account.none") }));
      return;
    }
    this.list.replaceChildren(
      ...events.map((event) =>
        h(
          "li",
          {},
          h("span", { class: "event-what", text: eventText(event) }),
          h("span", { class: "event-who", text: actorText(event.actor) }),
          h("time", { datetime: event.created_at, text: formatFullTime(event.created_at) }),
        ),
      ),
    );
  }

  openErase() {
    this.showError("");
    this.eraseDialog.showModal();
    this.password.focus();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
    this.password.setAttribute("aria-invalid", text ? "true" : "false");
  }

  async erase() {
    const password = this.password.value;
    if (!password) {
      this.showError(t("erase.wrongPassword"));
      this.password.focus();
      return;
    }
    this.confirm.disabled = true;
    this.confirm.textContent = t("erase.working");
    try {
      await this.api.erase(password);
      // 202: the account is going; its session is already over.
      location.assign("/accounts/login/");
      return;
    } catch (error) {
      this.showError(eraseErrorText(error));
      this.password.focus();
    } finally {
      this.confirm.disabled = false;
      this.confirm.textContent = t("erase.confirm");
    }
  }
}

export function eraseErrorText(error) {
  if (!(error instanceof ApiError)) return t("erase.error");
  if (error.status === 400 || error.status === 403) return t("erase.wrongPassword");
  if (error.status === 429) return t("erase.tooMany");
  if (error.status === 404 || error.status === 405) return t("erase.unavailable");
  return t("erase.error");
}
