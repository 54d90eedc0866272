// "Nouveau message": choose one or several neighbours (an ARIA combobox over
// the community's members), then write the first message in the composer.

import { t } from "../i18n.js";
import { byId, h } from "./dom.js";

const SEARCH_DELAY_MS = 150;

export class RecipientPicker {
  constructor({ searchMembers, onChange }) {
    this.root = byId("picker");
    this.input = byId("recipients-input");
    this.options = byId("recipients-options");
    this.chosenList = byId("recipients-chosen");
    this.error = byId("recipients-error");
    this.searchMembers = searchMembers;
    this.onChange = onChange;
    this.me = null;
    this.chosen = new Map();
    this.found = [];
    this.foundFor = null;
    this.active = -1;
    this.timer = null;
    this.searchSeq = 0;
    this.input.addEventListener("input", () => {
      this.setError("");
      this.scheduleSearch();
    });
    this.input.addEventListener("focus", () => this.scheduleSearch());
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("blur", () => {
      // Let a click on an option land first.
      setTimeout(() => this.close(), 150);
    });
  }

  reset(me) {
    this.me = me;
    this.chosen.clear();
    this.input.value = "";
    this.setError("");
    this.close();
    this.renderChosen();
  }

  setVisible(visible) {
    this.root.hidden = !visible;
    if (!visible) this.close();
  }

  focus() {
    this.input.focus();
  }

  usernames() {
    return [...this.chosen.keys()];
  }

  setError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  scheduleSearch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.search(), SEARCH_DELAY_MS);
  }

  async search() {
    const seq = ++this.searchSeq;
    const query = this.input.value.trim();
    let members;
    try {
      members = await this.searchMembers(query);
    } catch {
      return;
    }
    if (seq !== this.searchSeq) return;
    this.foundFor = query;
    this.found = members.filter((member) => member.username !== this.me && !this.chosen.has(member.username));
    this.active = this.found.length ? 0 : -1;
    if (document.activeElement === this.input) this.renderOptions();
  }

  renderOptions() {
    const items = this.found.map((member, index) =>
      h(
        "li",
        {
          role: "option",
          id: `recipient-option-${index}`,
          "aria-selected": index === this.active ? "true" : "false",
          class: index === this.active ? "option active" : "option",
          onmousedown: (event) => event.preventDefault(),
          onclick: () => this.choose(member),
        },
        h("span", { class: "option-name", text: member.display_name }),
        h("span", { class: "option-user", text: ` @${member.username}` }),
      ),
    );
    if (!items.length) {
      items.push(h("li", { class: "option none", "aria-disabled": "true", text: t("picker.none") }));
    }
    this.options.replaceChildren(...items);
    this.options.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    if (this.active >= 0) this.input.setAttribute("aria-activedescendant", `recipient-option-${this.active}`);
    else this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    this.options.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  onKey(event) {
    const open = !this.options.hidden;
    switch (event.key) {
      case "ArrowDown":
      case "ArrowUp":
        event.preventDefault();
        if (!open) {
          this.renderOptions();
          return;
        }
        if (this.found.length) {
          const step = event.key === "ArrowDown" ? 1 : -1;
          this.active = (this.active + step + this.found.length) % this.found.length;
          this.renderOptions();
        }
        break;
      case "Enter":
        if (open && this.active >= 0 && this.foundFor === this.input.value.trim()) {
          event.preventDefault();
          this.choose(this.found[this.active]);
        } else if (this.input.value.trim()) {
          // Typed faster than the list appeared: search now, take the best match.
          event.preventDefault();
          clearTimeout(this.timer);
          this.search().then(() => {
            if (this.found.length) this.choose(this.found[0]);
          });
        }
        break;
      case "Escape":
        if (open) {
          event.preventDefault();
          this.close();
        }
        break;
      case "Backspace":
        if (!this.input.value && this.chosen.size) {
          this.remove(this.usernames().at(-1));
        }
        break;
      default:
        break;
    }
  }

  choose(member) {
    this.chosen.set(member.username, member.display_name);
    this.input.value = "";
    this.found = this.found.filter((other) => other.username !== member.username);
    this.active = this.found.length ? 0 : -1;
    this.close();
    this.renderChosen();
    this.onChange(this.usernames());
    this.input.focus();
  }

  remove(username) {
    this.chosen.delete(username);
    this.renderChosen();
    this.onChange(this.usernames());
    this.input.focus();
  }

  renderChosen() {
    const chips = [...this.chosen].map(([username, name]) =>
      h(
        "li",
        { class: "chip" },
        h("span", { text: name }),
        h(
          "button",
          {
            type: "button",
            class: "chip-remove",
            "aria-label": t("picker.remove", { name }),
            onclick: () => this.remove(username),
          },
          h("span", { "aria-hidden": "true", text: "×" }),
        ),
      ),
    );
    this.chosenList.replaceChildren(...chips);
    this.chosenList.hidden = chips.length === 0;
  }

  /**
   * Before sending: names typed but not picked from the list are matched
   * against the members (exact username or display name). Returns the
   * usernames, or null after showing why it cannot.
   */
  async resolve() {
    const typed = this.input.value
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean);
    for (const name of typed) {
      let members = [];
      try {
        members = await this.searchMembers(name);
      } catch {
        members = [];
      }
      const lower = name.replace(/^@/, "").toLowerCase();
      const match =
        members.find((member) => member.username.toLowerCase() === lower) ??
        members.filter((member) => member.display_name.toLowerCase() === lower).at(0) ??
        (members.length === 1 ? members[0] : undefined);
      if (!match || match.username === this.me) {
        this.setError(t("picker.unknown", { name }));
        return null;
      }
      this.chosen.set(match.username, match.display_name);
    }
    if (typed.length) {
      this.input.value = "";
      this.renderChosen();
      this.onChange(this.usernames());
    }
    if (!this.chosen.size) {
      this.setError(t("picker.needRecipient"));
      return null;
    }
    return this.usernames();
  }
}
