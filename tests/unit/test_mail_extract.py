"""The new text of an emailed reply, on real clients' quoting styles
(tests/notifications/mail_fixtures/) and on each case our own code adds to
the libraries."""

from __future__ import annotations

import email
import json
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import cast

import pytest

from conversations.mail.extract import LONG_LINE, MAX_TEXT_CHARS, reply_text

FIXTURES = Path(__file__).resolve().parents[1] / "notifications" / "mail_fixtures"

# What each resident wrote, as the other participants must see it (the
# end-to-end test, tests/notifications/test_inbound.py, reads it too).
EXPECTED: dict[str, str] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)


def fixture(name: str) -> EmailMessage:
    raw = (FIXTURES / name).read_bytes()
    return cast(EmailMessage, email.message_from_bytes(raw, policy=policy.default))


def plain(text: str, **params: str) -> EmailMessage:
    message = EmailMessage()
    message.set_content(text)
    for key, value in params.items():
        message.set_param(key, value)
    return message


def test_every_reply_fixture_has_its_expected_text() -> None:
    """No reply fixture is left out of expected.json, nor is it stale."""
    names = {p.name for p in FIXTURES.glob("*.eml") if not p.name.startswith("dsn")}
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reply_text_is_only_what_the_resident_wrote(name: str) -> None:
    """Quoted history, attribution or header block and signature are gone;
    what the resident wrote is kept exactly."""
    assert reply_text(fixture(name)) == EXPECTED[name]


def test_no_break_space_before_the_french_colon_still_ends_the_reply() -> None:
    """Our addition: "a écrit :" with a no-break space (iPhone, Gmail) is
    an attribution line like any other."""
    message = plain(
        "D'accord pour demain.\n\n"
        "Le 26 nov. 2026 à 09:16, Voisins <no-reply@example.org> a écrit\u00a0:\n\n"
        "Bonjour Bob, vous avez un nouveau message.\n"
    )
    assert reply_text(message) == "D'accord pour demain."


def test_french_attribution_wrapped_over_two_lines_ends_the_reply() -> None:
    """Our addition: Gmail wraps a long "Le … a écrit :" line; the two
    halves are joined before looking for it."""
    message = plain(
        "Très bien, merci.\n\n"
        "Le jeu. 26 nov. 2026 à 09:16, Alice Martin-Dupont <\n"
        "alice.martin-dupont@example.org> a écrit :\n\n"
        "Bonjour, vous avez un nouveau message de vos voisins.\n"
    )
    assert reply_text(message) == "Très bien, merci."


@pytest.mark.parametrize(
    "signature",
    ["Envoyé de mon iPhone", "Envoyé de mon iPad", "Télécharger Outlook pour Android"],
)
def test_french_mobile_signatures_are_removed(signature: str) -> None:
    """Our addition: the library knows "Sent from my …" but not its French
    forms."""
    assert reply_text(plain(f"Je passe à 18 h.\n\n{signature}\n")) == "Je passe à 18 h."


def test_quoted_lines_are_dropped_wherever_they_are() -> None:
    """Our addition: '>' lines with no attribution above them (a reply
    written between quoted lines) are not new text."""
    message = plain(
        "> Tu es là samedi ?\nOui, le matin.\n> Et la tondeuse ?\nJe te la prête.\n"
    )
    assert reply_text(message) == "Oui, le matin.\nJe te la prête."


def test_format_flowed_lines_are_joined_and_space_stuffing_removed() -> None:
    """format=flowed (RFC 3676): a trailing space joins a line to the next;
    DelSp=yes drops that space."""
    assert reply_text(plain("Un deux \ntrois.\n", format="flowed")) == "Un deux trois."
    joined = reply_text(plain("Un deux-\ntrois \nquatre.\n", format="flowed"))
    assert joined == "Un deux-\ntrois quatre."
    stuffed = reply_text(plain("Bon \njour.\n", format="flowed", delsp="yes"))
    assert stuffed == "Bonjour."


def test_html_only_reply_becomes_plain_text() -> None:
    """Markup and entities become text; links show their words only."""
    message = EmailMessage()
    message.set_content(
        "<p>Rendez-vous <b>devant</b> l&rsquo;église,<br>"
        '<a href="https://example.org/plan">voir le plan</a>.</p>',
        subtype="html",
    )
    assert reply_text(message) == "Rendez-vous devant l\u2019église,\nvoir le plan."


def test_a_dash_list_is_not_a_signature() -> None:
    """Lines starting with "- " are the resident's list, not a signature."""
    text = "Il me faut :\n- de l'essence\n- la clé"
    assert reply_text(plain(text + "\n")) == text


def test_a_reply_that_is_only_quote_and_signature_is_empty() -> None:
    message = plain("\n-- \nBob\n\nOn Thu, Voisins wrote:\n> Hello Bob\n")
    assert reply_text(message) == ""


def test_unknown_charset_is_read_as_utf8() -> None:
    """A charset Python does not know does not lose the reply."""
    message = EmailMessage()
    message["Content-Type"] = "text/plain; charset=x-unknown-charset"
    message.set_payload(b"Merci beaucoup !")
    assert reply_text(message) == "Merci beaucoup !"


def test_a_message_without_text_part_has_no_text() -> None:
    message = EmailMessage()
    message.set_content(b"\x89PNG...", maintype="image", subtype="png")
    assert reply_text(message) == ""


def test_long_lines_are_kept_whole_and_hostile_input_stays_fast() -> None:
    """A paragraph longer than LONG_LINE is new text like any other, even
    starting with "On"; text built to make the library backtrack (lines of
    "On …" with no "wrote:") is read in well under a few seconds."""
    paragraph = "On Saturday " + "we could meet at the market " * 40
    assert len(paragraph) > LONG_LINE
    assert reply_text(plain(paragraph + "\n")) == paragraph.strip()
    hostile = "\n".join(["On a b c d e f g " * 17] * (MAX_TEXT_CHARS // 290))
    started = time.monotonic()
    reply_text(plain(hostile))
    assert time.monotonic() - started < 10
