// The interface's words, French first, and dates in the resident's locale.
// No DOM here: Node tests import it.

const CATALOGUE = {
  fr: {
    "app.title": "Voisins",
    "status.connecting": "Connexion en cours…",
    "status.online": "Connecté",
    "status.offline": "Connexion perdue. Nouvelle tentative bientôt…",
    "status.revoked": "Accès retiré. Rechargez la page.",
    "list.empty": "Aucune conversation pour l’instant.",
    "list.you": "Vous",
    "list.from": "{name} : {text}",
    "list.unread": { one: "{n} non lu", other: "{n} non lus" },
    "list.noMessage": "Pas encore de message",
    "thread.empty": "Choisissez une conversation ou écrivez un nouveau message.",
    "thread.new": "Nouveau message",
    "thread.back": "Retour aux conversations",
    "thread.older": "Afficher les messages précédents",
    "thread.loading": "Chargement…",
    "thread.start": "Début de la conversation",
    "thread.loadError": "Impossible de charger les messages.",
    "message.you": "Vous",
    "message.pending": "Envoi…",
    "message.failed": "Non envoyé",
    "message.retry": "Réessayer",
    "message.read": "Lu",
    "message.readBy": "Lu par {names}",
    "typing.one": "{name} écrit…",
    "typing.many": "{names} écrivent…",
    "picker.none": "Aucun voisin trouvé.",
    "picker.remove": "Retirer {name}",
    "picker.selected": "Destinataires choisis",
    "picker.needRecipient": "Choisissez au moins un destinataire.",
    "picker.unknown": "Voisin introuvable : {name}",
    "error.not_member": "Un destinataire ne fait plus partie de la communauté.",
    "error.not_found": "Conversation introuvable.",
    "error.too_long": "Message trop long (5 000 caractères au plus).",
    "error.rate_limited": "Trop de messages d’affilée. Patientez un instant.",
    "error.blocked": "Ce voisin ne reçoit pas vos messages.",
    "error.bad_request": "Message refusé.",
    "error.unavailable": "Service momentanément indisponible.",
    "error.other": "Une erreur est survenue.",
    "notify.title": "{name}",
    "notify.fallback": "Nouveau message",
    "notify.enable": "Activer les notifications",
    "notify.enabled": "Notifications activées sur cet appareil.",
    "notify.denied": "Notifications refusées dans le navigateur.",
    "notify.unsupported": "Ce navigateur ne permet pas les notifications.",
    "notify.pushFailed": "Notifications actives seulement quand l’onglet est ouvert.",
    "notify.disable": "Désactiver les notifications",
    "notify.disabled": "Notifications désactivées sur cet appareil.",
    "settings.saved": "Réglages enregistrés.",
    "settings.saveError": "Impossible d’enregistrer les réglages.",
    "settings.loadError": "Impossible de charger les réglages.",
    "settings.privacy": "Vos données et leur confidentialité",
    "banner.bouncing":
      "Les e-mails envoyés à {email} nous reviennent sans avoir été remis : vous ne recevez plus nos notifications par e-mail. Vérifiez cette adresse.",
    "banner.confirm": "C’est bien mon adresse",
    "banner.error": "Impossible d’enregistrer. Réessayez.",
    "settings.quietSame": "Les heures calmes doivent commencer et finir à des heures différentes.",
    "settings.quietMissing": "Indiquez le début et la fin des heures calmes.",
  },
  en: {
    "app.title": "Neighbours",
    "status.connecting": "Connecting…",
    "status.online": "Connected",
    "status.offline": "Connection lost. Retrying soon…",
    "status.revoked": "Access removed. Reload the page.",
    "list.empty": "No conversations yet.",
    "list.you": "You",
    "list.from": "{name}: {text}",
    "list.unread": { one: "{n} unread", other: "{n} unread" },
    "list.noMessage": "No message yet",
    "thread.empty": "Pick a conversation or write a new message.",
    "thread.new": "New message",
    "thread.back": "Back to conversations",
    "thread.older": "Show earlier messages",
    "thread.loading": "Loading…",
    "thread.start": "Start of the conversation",
    "thread.loadError": "Could not load the messages.",
    "message.you": "You",
    "message.pending": "Sending…",
    "message.failed": "Not sent",
    "message.retry": "Retry",
    "message.read": "Read",
    "message.readBy": "Read by {names}",
    "typing.one": "{name} is typing…",
    "typing.many": "{names} are typing…",
    "picker.none": "No neighbour found.",
    "picker.remove": "Remove {name}",
    "picker.selected": "Chosen recipients",
    "picker.needRecipient": "Choose at least one recipient.",
    "picker.unknown": "Neighbour not found: {name}",
    "error.not_member": "A recipient is no longer in the community.",
    "error.not_found": "Conversation not found.",
    "error.too_long": "Message too long (5,000 characters at most).",
    "error.rate_limited": "Too many messages in a row. Wait a moment.",
    "error.blocked": "This neighbour does not receive your messages.",
    "error.bad_request": "Message refused.",
    "error.unavailable": "Service briefly unavailable.",
    "error.other": "Something went wrong.",
    "notify.title": "{name}",
    "notify.fallback": "New message",
    "notify.enable": "Turn on notifications",
    "notify.enabled": "Notifications are on for this device.",
    "notify.denied": "Notifications are blocked in the browser.",
    "notify.unsupported": "This browser cannot show notifications.",
    "notify.pushFailed": "Notifications only work while the tab is open.",
    "notify.disable": "Turn off notifications",
    "notify.disabled": "Notifications are off for this device.",
    "settings.saved": "Settings saved.",
    "settings.saveError": "Could not save the settings.",
    "settings.loadError": "Could not load the settings.",
    "settings.privacy": "Your data and privacy",
    "banner.bouncing":
      "Emails sent to {email} come back undelivered: you no longer get our email notifications. Please check this address.",
    "banner.confirm": "This is my address",
    "banner.error": "Could not save. Please try again.",
    "settings.quietSame": "Quiet hours must start and end at different times.",
    "settings.quietMissing": "Give the start and the end of the quiet hours.",
  },
};

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

/** Full date and time, for a tooltip. */
export function formatFullTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return new Intl.DateTimeFormat(current, {
    dateStyle: "full",
    timeStyle: "short",
  }).format(date);
}
