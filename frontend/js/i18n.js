// The interface's words, French first, and dates in the resident's locale.
// No DOM here: Node tests import it.

import { CATALOGUE } from "./catalogue.js";

export const LANGUAGES = Object.keys(CATALOGUE);
let current = "fr";

export function setLanguage(lang) {
  current = LANGUAGES.includes(lang) ? lang : "fr";
  return current;
}

export function language() {
  return current;
}

function fill(text, params) {
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The text for `key` in the current language (French when missing). */
export function t(key, params = {}) {
  let entry = CATALOGUE[current][key] ?? CATALOGUE.fr[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") {
    const rule = new Intl.PluralRules(current).select(Number(params.n ?? 0));
    entry = entry[rule] ?? entry.other;
  }
  return fill(entry, params);
}

/**
 * Put the current language's words into the page's markup: `data-i18n`
 * (text), `data-i18n-label` (aria-label), `data-i18n-placeholder`.
 */
export function translatePage(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
}

/** "Alice, Bob et Carole" in the current language. */
export function formatList(names) {
  return new Intl.ListFormat(current, { style: "long", type: "conjunction" }).format(
    names,
  );
}

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

/** Short time for a message: the hour today, the date otherwise. */
export function formatTime(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const options = sameDay(date, now)
    ? { hour: "2-digit", minute: "2-digit" }
    : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return new Intl.DateTimeFormat(current, options).format(date);
}

/** "182 ko", "1,4 Mo": a file's size for people. */
export function formatSize(bytes) {
  const units = [
    ["megabyte", 1024 * 1024],
    ["kilobyte", 1024],
  ];
  for (const [unit, size] of units) {
    if (bytes >= size) {
      return new Intl.NumberFormat(current, {
        style: "unit",
        unit,
        maximumFractionDigits: bytes >= 10 * size ? 0 : 1,
      }).format(bytes / size);
    }
  }
  return new Intl.NumberFormat(current, { style: "unit", unit: "byte" }).format(bytes);
}

/** Full date and time, for a tooltip. */
export function formatFullTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(current, {
    dateStyle: "full",
    timeStyle: "short",
  }).format(date);
}
