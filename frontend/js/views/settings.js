// The settings dialog: this device's notifications, the resident's
// notification preferences (GET/PATCH /api/me/preferences/: e-mail, push,
// quiet hours and their time zone), the account and its data (account.js)
// and the interface language.

import { t } from "../i18n.js";
import {
  DEFAULT_QUIET,
  initialTimeZone,
  quietHoursValue,
  timeZoneChoices,
  timeZoneLabel,
} from "../preferences.js";
import { AccountSection } from "./account.js";
import { byId } from "./dom.js";

function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function supportedTimeZones() {
  return typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
}

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
    this.pushPref = byId("pref-push");
    this.quiet = byId("pref-quiet");
    this.quietStart = byId("pref-quiet-start");
    this.quietEnd = byId("pref-quiet-end");
    this.timeZone = byId("pref-time-zone");
    this.remote = [this.email, this.text, this.pushPref, this.quiet];
    this.language = byId("pref-language");
    this.result = byId("settings-result");
    this.pushState = byId("push-state");
    this.pushToggle = byId("push-toggle");
    this.loaded = null;
    this.account = new AccountSection({ api });
    byId("settings-open").addEventListener("click", () => this.open());
    byId("settings-close").addEventListener("click", () => this.dialog.close());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.pushToggle.addEventListener("click", () => this.togglePush());
    this.quiet.addEventListener("change", () => this.renderQuiet());
  }

  async open() {
    this.result.textContent = "";
    this.language.value = document.documentElement.lang === "en" ? "en" : "fr";
    this.renderPush();
    this.dialog.showModal();
    this.account.load();
    try {
      const prefs = await this.api.preferences();
      this.loaded = prefs;
      this.email.checked = Boolean(prefs.email);
      this.text.checked = Boolean(prefs.email_include_text);
      this.pushPref.checked = prefs.push !== false;
      this.quiet.checked = Boolean(prefs.quiet_hours);
      const quiet = prefs.quiet_hours ?? DEFAULT_QUIET;
      this.quietStart.value = quiet.start;
      this.quietEnd.value = quiet.end;
      const known = supportedTimeZones();
      this.fillTimeZones(known, initialTimeZone(prefs, browserTimeZone(), known), prefs.time_zone);
      for (const control of this.remote) control.disabled = false;
      this.onPreferences(prefs);
    } catch {
      this.loaded = null;
      for (const control of this.remote) control.disabled = true;
      this.result.textContent = t("settings.loadError");
    }
    this.renderQuiet();
  }

  fillTimeZones(known, selected, saved) {
    const names = timeZoneChoices(known, selected, saved);
    this.timeZone.replaceChildren(...names.map((name) => new Option(timeZoneLabel(name), name)));
    this.timeZone.value = selected;
  }

  // The times and the zone matter only with quiet hours on.
  renderQuiet() {
    const off = this.loaded === null || !this.quiet.checked;
    for (const control of [this.quietStart, this.quietEnd, this.timeZone]) {
      control.disabled = off;
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
      const quiet = quietHoursValue({
        enabled: this.quiet.checked,
        start: this.quietStart.value,
        end: this.quietEnd.value,
      });
      if (quiet.error) {
        this.result.textContent = t(quiet.error);
        (this.quietStart.value ? this.quietEnd : this.quietStart).focus();
        return;
      }
      changes.email = this.email.checked;
      changes.email_include_text = this.text.checked;
      changes.push = this.pushPref.checked;
      changes.quiet_hours = quiet.value;
      if (quiet.value) changes.time_zone = this.timeZone.value;
    }
    let saved = true;
    try {
      const prefs = await this.api.savePreferences(changes);
      if (prefs) {
        this.loaded = prefs;
        this.onPreferences(prefs);
      }
    } catch {
      saved = false;
    }
    this.result.textContent = saved ? t("settings.saved") : t("settings.saveError");
    if (language !== document.documentElement.lang) await this.onLanguage(language);
  }
}
