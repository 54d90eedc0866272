"""The new text of an emailed reply: what the resident wrote, without the
quoted history or the signature. Pure: a parsed message in, text out.

- The text/plain part is preferred; an HTML-only message is turned into text
  by inscriptis, and format=flowed text (Thunderbird) is unwrapped by
  formatflowed (RFC 3676).
- mail-parser-reply, in French and English, cuts the text at the quoted
  message's attribution line ("Le … a écrit :", "On … wrote:") or header
  block ("De : … Envoyé : …", "From: … Sent: …", Outlook's underscore rule)
  and removes the signature ("-- ", "Sent from my …", "Get Outlook for …")
  and sign-offs ("Cordialement", "Best regards", …: what follows them goes
  too).
- Our additions, for what the library misses (each has a test in
  tests/unit/test_mail_extract.py): no-break spaces and byte order marks
  become plain (iPhone and Gmail write "a écrit :" with a no-break space,
  which the library's French pattern does not accept); Gmail's French
  attribution wrapped over two lines is joined; "Envoyé de mon iPhone" and
  other French mobile signatures are removed; lines still starting with ">"
  are dropped (a reply written under the quote, or between its lines).

docs/email.md says why these libraries.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import formatflowed
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from mailparser_reply.parser import EmailMessage as ParsedReply

# The library's attribution patterns backtrack: a line of a few thousand
# characters starting with "On" takes seconds, and the cost grows faster
# than the square of its length. Attribution and header lines are short, so
# longer lines are hidden from it, and it reads at most MAX_TEXT_CHARS (the
# new text is at most 5,000 characters: a reply that reaches the cap is
# refused as too long anyway). Worst case measured: about half a second.
MAX_TEXT_CHARS = 20_000
MAX_HTML_CHARS = 1_000_000
LONG_LINE = 300

_LANGUAGES = ("fr", "en")
_HTML = ParserConfig(display_links=False, display_images=False)
_PLAIN = str.maketrans(
    {
        "\u00a0": " ",
        "\u202f": " ",
        "\u2007": " ",
        "\ufeff": None,
        "\u200b": None,
        "\x00": None,
    }
)
_WRAPPED_ATTRIBUTION = re.compile(r"^(Le [^\n]+)\n([^\n]*\bécrit ?:)[ \t]*$", re.M)
_MOBILE_SIGNATURE = re.compile(
    r"\n\s*(?:Envoyé de mon|Envoyé depuis mon|Télécharger Outlook pour)\b[^\n]*\s*$",
    re.IGNORECASE,
)
_HIDDEN = re.compile(r"\x00(\d+)\x00")


def reply_text(message: EmailMessage) -> str:
    """What the resident wrote in this reply ("" when nothing is left)."""
    text = _body_text(message).translate(_PLAIN).replace("\r\n", "\n")
    text = _WRAPPED_ATTRIBUTION.sub(r"\1 \2", text)
    # Quoted lines are never new text: without them a reply written under
    # the quote is found too, and the cap keeps what matters.
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    text = "\n".join(lines)[:MAX_TEXT_CHARS]
    if not text.strip():
        return ""
    long_lines: list[str] = []
    shown = "\n".join(_hidden_if_long(line, long_lines) for line in text.split("\n"))
    parsed = ParsedReply(
        text=shown, languages=list(_LANGUAGES), keep_hyphen_lists=True
    ).read()
    latest = parsed.replies[0].body if parsed.replies else ""
    latest = _HIDDEN.sub(lambda match: long_lines[int(match.group(1))], latest)
    return _MOBILE_SIGNATURE.sub("", latest).strip()


def _hidden_if_long(line: str, long_lines: list[str]) -> str:
    if len(line) <= LONG_LINE:
        return line
    long_lines.append(line)
    return f"\x00{len(long_lines) - 1}\x00"


def html_to_text(html: str) -> str:
    return get_text(html[:MAX_HTML_CHARS], _HTML)


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    text = _decoded(part)
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    if str(part.get_param("format", "")).lower() == "flowed":
        delete_space = str(part.get_param("delsp", "")).lower() == "yes"
        return _unflowed(text[:MAX_TEXT_CHARS], delete_space=delete_space)
    return text


def _decoded(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown charset: most mail is UTF-8 or close to it.
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def _unflowed(text: str, *, delete_space: bool) -> str:
    """Join the lines that format=flowed broke, keeping quote depth as '>'."""
    raw = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    chunks = formatflowed.decode(raw, character_set="utf-8", delete_space=delete_space)
    return "\n".join("> " * info["quotedepth"] + chunk for info, chunk in chunks)
