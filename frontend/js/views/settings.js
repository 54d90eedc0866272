// The settings dialog: this device's notifications, e-mail preferences
// (GET/PATCH /api/me/preferences/) and the interface language.

import { t } from "../i18n.js";
import { byId } from "./dom.js";

export class SettingsDialog {
  constructor({ api, push, onLanguage, onPreferences }) {
    this.api = api;
    this.push = push;
    this.onLanguage = onLanguage;
    this.onPreferences = onPreferences;
    this.dialog = byId("settings");
    this.form = byId("settings-form");
    this.email = byId("pref-email");
    this.text = byId("pref-text");
    this.language = byId("pref-language");
    this.result = byId("settings-result");
    this.pushState = byId("push-state");
    this.pushToggle = byId("push-toggle");
    this.loaded = null;
    const privacy = document.createElement("p");
    const privacyLink = document.createElement("a");
    privacyLink.href = "/confidentialite/";
    privacyLink.textContent = t("settings.privacy");
    privacy.append(privacyLink);
    this.result.before(privacy);
    byId("settings-open").addEventListener("click", () => this.open());
    byId("settings-close").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.pushToggle.addEventListener("click", () => this.togglePush());
  }


  async open() {
    this.result.textContent = "";
    this.language.value = document.documentElement.lang === "en" ? "en" : "fr";
    this.renderPush();
    this.dialog.showModal();
    try {
      const prefs = await this.api.preferences();
      this.loaded = prefs;
      this.email.checked = Boolean(prefs.email);
      this.text.checked = Boolean(prefs.email_include_text);
      this.email.disabled = false;
      this.text.disabled = false;
      this.onPreferences(prefs);
    } catch {
      this.loaded = null;
      this.email.disabled = true;
      this.text.disabled = true;
      this.result.textContent = t("settings.loadError");
    }
  }

  renderPush() {
    const permission = this.push.permission();
    this.pushToggle.hidden = false;
    if (permission === "unsupported") {
      this.pushState.textContent = t("notify.unsupported");
      this.pushToggle.hidden = true;
    } else if (permission === "denied") {
      this.pushState.textContent = t("notify.denied");
      this.pushToggle.hidden = true;
    } else if (permission === "granted") {
      this.pushState.textContent = t("notify.enabled");
      this.pushToggle.textContent = t("notify.disable");
      this.pushToggle.dataset.action = "disable";
    } else {
      this.pushState.textContent = "";
      this.pushToggle.textContent = t("notify.enable");
      this.pushToggle.dataset.action = "enable";
    }
  }

  async togglePush() {
    if (this.pushToggle.dataset.action === "disable") {
      await this.push.disablePush();
      this.pushState.textContent = t("notify.disabled");
      this.pushToggle.textContent = t("notify.enable");
      this.pushToggle.dataset.action = "enable";
      return;
    }
    const outcome = await this.push.enableNotifications();
    this.renderPush();
    if (outcome === "local") this.pushState.textContent = t("notify.pushFailed");
  }

  async save() {
    const language = this.language.value;
    const changes = { language };
    if (this.loaded !== null) {
      changes.email = this.email.checked;
      changes.email_include_text = this.text.checked;
    }
    let saved = true;
    try {
      const prefs = await this.api.savePreferences(changes);
      if (prefs) this.onPreferences(prefs);
    } catch {
      saved = false;
    }
    this.result.textContent = saved ? t("settings.saved") : t("settings.saveError");
    if (language !== document.documentElement.lang) await this.onLanguage(language);
  }
}
