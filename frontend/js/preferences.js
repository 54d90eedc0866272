// The settings dialog's rules for push, quiet hours and time zone, apart from
// the DOM so that Node tests can import them.

export const DEFAULT_QUIET = { start: "22:00", end: "07:00" };
const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;

/**
 * The zone the select shows: the saved one while quiet hours use it,
 * otherwise the browser's, which is what a resident turning quiet hours on
 * most likely means (the server's default zone is only a guess). A browser
 * zone outside `known` (e.g. "Etc/Unknown" when the system has none) is not
 * offered; an empty `known` means the browser cannot list its zones.
 */
export function initialTimeZone(prefs, browserZone, known = []) {
  if (prefs?.quiet_hours && prefs.time_zone) return prefs.time_zone;
  const usable = browserZone && (known.length === 0 || known.includes(browserZone));
  return (usable && browserZone) || prefs?.time_zone || "Europe/Paris";
}

/** Every zone the browser knows, plus those we must be able to show, sorted. */
export function timeZoneChoices(supported, ...extra) {
  const names = new Set([...supported, ...extra.filter(Boolean)]);
  return [...names].sort((a, b) => a.localeCompare(b, "en"));
}

/** "America/Argentina/Buenos_Aires" -> "America/Argentina/Buenos Aires". */
export function timeZoneLabel(name) {
  return name.replaceAll("_", " ");
}

/**
 * The `quiet_hours` value to PATCH, or `{ error }` with an i18n key when the
 * times cannot make a window (the server refuses start === end as well).
 * Time inputs may give seconds ("22:00:00"): minutes are what is stored.
 */
export function quietHoursValue({ enabled, start, end }) {
  if (!enabled) return { value: null };
  const from = (start ?? "").slice(0, 5);
  const to = (end ?? "").slice(0, 5);
  if (!CLOCK.test(from) || !CLOCK.test(to)) return { error: "settings.quietMissing" };
  if (from === to) return { error: "settings.quietSame" };
  return { value: { start: from, end: to } };
}
