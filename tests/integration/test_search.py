"""Search in one's own messages: the selector, its index and the HTTP endpoint,
on SQLite (FTS5) and, through scripts/with_postgres.py, PostgreSQL (GIN)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from conversations.models import Community, Membership, Message, User
from conversations.search_index import (
    SQLITE_TRIGGERS,
    body_vector_sql,
    sqlite_triggers_restore,
)
from conversations.selectors.search import message_search
from conversations.services.access import membership_suspend
from conversations.wire.schema import MessageObject

from .conftest import Send

pytestmark = pytest.mark.django_db

AssertNumQueries = Callable[..., Any]

# The selector's match on PostgreSQL, alone.
COUNT_MATCHES = (
    "SELECT count(*) FROM conversations_message WHERE "  # noqa: S608 (constants)
    + body_vector_sql("body")
    + " @@ plainto_tsquery('voisins_fr'::regconfig, %s)"
)

ODD_QUERIES = [
    '"',
    '""',
    "*",
    "fête*",
    "-",
    "-fête",
    "OR",
    "fête OR école",
    "fête AND",
    "NOT fête",
    "NEAR(fête école)",
    "body:fête",
    "^fête",
    "'",
    "l'école",
    "'; DROP TABLE conversations_message; --",
    "(",
    ")",
    "{fête}",
    "%",
    "_",
    "\\",
    ":",
    "&|!<->",
    "fête\x00école",
    "\x00",
    "🎉 fête",
    "日本語",
    "\u0301",
    "e\u0301cole",
    "le de la",
    "ÆØÅ œuf",
]


def ids(results: list[MessageObject]) -> list[int]:
    return [m["id"] for m in results]


def search(user: User, community: Community, query: str) -> list[int]:
    return ids(message_search(user_id=user.pk, community=community, query=query))


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def search_path(slug: str = "bourg-centre") -> str:
    return f"/api/communities/{slug}/search/"


# Matching.


def test_fete_finds_fete_in_any_case_and_accent(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """ "fete" finds "Fête" and "FÊTE", and nothing without the word."""
    first = send(alice, "La Fête des voisins est samedi", to=["bob"]).message
    second = send(bob, "FÊTE ce soir chez Carole", to=["alice"]).message
    send(alice, "Rien à voir", to=["bob"])
    assert search(alice, community, "fete") == [second["id"], first["id"]]


def test_upper_case_without_accent_finds_accented_word(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """ "ECOLE" finds "école" and "l'école"."""
    first = send(alice, "Sortie d'école à 16 h", to=["bob"]).message
    second = send(alice, "Je passe à l'école", to=["bob"]).message
    assert search(bob, community, "ECOLE") == [second["id"], first["id"]]


def test_every_word_of_the_query_must_be_in_the_body(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Two words find only the messages that have both."""
    both = send(alice, "La tondeuse est dans le garage", to=["bob"]).message
    send(alice, "La tondeuse est prête", to=["bob"])
    send(alice, "Le garage est ouvert", to=["bob"])
    assert search(alice, community, "garage TONDEUSE") == [both["id"]]


def test_sent_and_received_messages_are_both_found(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> None:
    """The resident's own messages count as much as those sent to them."""
    sent = send(alice, "Poubelles sorties", to=["bob"]).message
    received = send(carol, "Les poubelles passent mardi", to=["alice"]).message
    assert search(alice, community, "poubelles") == [received["id"], sent["id"]]


def test_results_are_message_objects(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Each result is the contract's message object, participants included."""
    sent = send(alice, "Chat perdu rue Bourgmayer", to=["bob"]).message
    assert message_search(user_id=bob.pk, community=community, query="chat") == [sent]


# Privacy and scope.


def test_randomized_residents_never_find_others_conversations(
    make_resident: Callable[..., User], send: Send, community: Community
) -> None:
    """Across random conversations of six residents, each search returns
    exactly the matching messages of the searcher's own conversations."""
    rng = random.Random(20261201)
    residents = [make_resident(community, f"resident{i}") for i in range(6)]
    words = {"tondeuse": "tondeuse", "fete": "Fête", "ecole": "école", "chat": "chat"}
    groups = [rng.sample(residents, rng.choice([2, 3])) for _ in range(10)]
    sent: list[tuple[set[int], set[str], int]] = []
    for _ in range(50):
        group = rng.choice(groups)
        sender = rng.choice(group)
        chosen = set(rng.sample(sorted(words), rng.choice([1, 2])))
        body = " et ".join(words[w] for w in sorted(chosen))
        others = [u.username for u in group if u != sender]
        message = send(sender, body, to=others).message
        sent.append(({u.pk for u in group}, chosen, message["id"]))
    for resident in residents:
        for word in words:
            expected = sorted(
                (i for g, c, i in sent if resident.pk in g and word in c),
                reverse=True,
            )
            assert search(resident, community, word) == expected, (resident, word)


def test_a_conversation_without_the_searcher_is_never_found(
    send: Send, alice: User, bob: User, mallory: User, community: Community
) -> None:
    """A member of the community finds nothing of a conversation they are
    not in, even with the exact words."""
    send(alice, "Code du portail 4512", to=["bob"])
    assert search(mallory, community, "portail 4512") == []


def test_messages_of_another_community_are_not_found(
    make_resident: Callable[..., User],
    send: Send,
    alice: User,
    bob: User,
    community: Community,
    other_community: Community,
) -> None:
    """Searching a community returns none of the resident's messages in
    another community."""
    make_resident(other_community, "alice")
    make_resident(other_community, "bob")
    home = send(alice, "Fête de quartier", to=["bob"]).message
    send(alice, "Fête à La Croix", to=["bob"], community=other_community)
    assert search(alice, community, "fete") == [home["id"]]


# Edits, deletions, purges: plain UPDATEs and DELETEs of the rows.


def test_a_deleted_message_is_never_found(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A message deleted (body emptied, `deleted` set) is not found by its
    former words."""
    message = send(alice, "Clé sous le paillasson", to=["bob"]).message
    Message.objects.filter(pk=message["id"]).update(body="", deleted=True)
    assert search(bob, community, "paillasson") == []


def test_a_message_marked_deleted_is_not_found_even_with_a_body(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """The `deleted` flag alone keeps a message out of the results."""
    message = send(alice, "Clé sous le paillasson", to=["bob"]).message
    Message.objects.filter(pk=message["id"]).update(deleted=True)
    assert search(bob, community, "paillasson") == []


def test_an_edited_message_is_found_by_its_new_words_only(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """After the body changes, the new words find it and the old ones not."""
    message = send(alice, "Réunion mardi", to=["bob"]).message
    Message.objects.filter(pk=message["id"]).update(body="Assemblée jeudi")
    assert search(bob, community, "jeudi") == [message["id"]]
    assert search(bob, community, "mardi") == []


def test_a_purged_message_is_gone_from_the_index(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A row deleted (retention purge) is not found, and the index keeps
    nothing of it."""
    message = send(alice, "Vélo à vendre", to=["bob"]).message
    Message.objects.filter(pk=message["id"]).delete()
    assert search(bob, community, "velo") == []
    assert indexed_rows_matching("velo") == 0


def indexed_rows_matching(word: str) -> int:
    """Rows of the search index itself that hold `word`."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM conversations_message_search "
                "WHERE conversations_message_search MATCH %s",
                [f'"{word}"'],
            )
        else:
            cursor.execute(COUNT_MATCHES, [word])
        return int(cursor.fetchone()[0])


# Limits, order, odd input.


def test_at_most_fifty_newest_first(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Of 60 matching messages the 50 newest come back, newest first."""
    sent = [send(alice, f"Colis numéro {n}", to=["bob"]).message for n in range(60)]
    expected = sorted((m["id"] for m in sent), reverse=True)[:50]
    assert search(bob, community, "colis") == expected


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_odd_characters_never_fail(
    send: Send, alice: User, bob: User, community: Community, query: str
) -> None:
    """Quotes, operators, punctuation, NUL and any script give a plain
    answer, never an error."""
    send(alice, "La fête de l'école, œuf et 🎉", to=["bob"])
    assert isinstance(search(bob, community, query), list)


@pytest.mark.parametrize("query", ['"fête"', "fête*", "-fête", "(fête)"])
def test_operators_are_plain_text(
    send: Send, alice: User, bob: User, community: Community, query: str
) -> None:
    """Quotes, `*`, `-`, `OR` and parentheses are not operators: the word
    next to them is still required and found."""
    message = send(alice, "La fête des voisins, ou bien", to=["bob"]).message
    send(alice, "Autre chose", to=["bob"])
    assert search(bob, community, query) == [message["id"]]


def test_or_is_a_word_to_find_not_an_operator(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """ "fete OR ecole" finds neither a message with only "fête" nor one with
    only "école": "OR" is one more word the body must have."""
    send(alice, "La fête", to=["bob"])
    send(alice, "L'école", to=["bob"])
    assert search(bob, community, "fete OR ecole") == []


def test_a_query_with_no_word_finds_nothing(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Punctuation alone matches no message."""
    send(alice, "Bonjour !", to=["bob"])
    assert search(bob, community, "!?*") == []


def test_search_query_count_is_fixed(
    django_assert_num_queries: AssertNumQueries,
    send: Send,
    alice: User,
    bob: User,
    carol: User,
    mallory: User,
    community: Community,
) -> None:
    """Three queries (conversations, messages with senders, participants)
    whatever the number of results and conversations."""
    for to in (["bob"], ["carol"], ["bob", "carol"], ["mallory"]):
        for _ in range(3):
            send(alice, "Marché samedi", to=to)
    with django_assert_num_queries(3):
        results = message_search(user_id=alice.pk, community=community, query="marché")
    assert len(results) == 12


# The index itself.


def test_postgresql_match_is_the_indexed_expression(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """The match alone, with sequential scans off, reads message_body_search:
    the query's expression is the index's."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (the SQLite pass has its own index test)")
    send(alice, "Fête", to=["bob"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + COUNT_MATCHES, ["fete"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "message_body_search" in plan, plan


def test_postgresql_search_query_matches_its_own_rows(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """The selector's search query applies the indexed expression to the
    rows it searches (the subquery's alias U0), not to the outer query's:
    a match on the outer rows gives the same results but cannot use the
    index and computes it for the whole table."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    send(alice, "Fête", to=["bob"])
    with CaptureQueriesContext(connection) as captured:
        search(bob, community, "fete")
    (sql,) = [q["sql"] for q in captured.captured_queries if "tsquery" in q["sql"]]
    assert sql.count("to_tsvector") == 1
    assert body_vector_sql('U0."body"') in sql


def test_sqlite_index_stays_consistent_with_the_rows(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """After inserts, edits and deletions, FTS5's integrity check of the
    index against conversations_message passes."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only (FTS5)")
    kept = send(alice, "Premier message", to=["bob"]).message
    edited = send(alice, "Deuxième message", to=["bob"]).message
    purged = send(alice, "Troisième message", to=["bob"]).message
    Message.objects.filter(pk=edited["id"]).update(body="Modifié")
    Message.objects.filter(pk=kept["id"]).update(body="", deleted=True)
    Message.objects.filter(pk=purged["id"]).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO conversations_message_search"
            "(conversations_message_search, rank) VALUES ('integrity-check', 1)"
        )


def test_sqlite_triggers_come_back_after_a_table_remake(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """When a migration's table remake dropped the triggers, the
    post-migrate repair recreates them and indexes what was missed."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only (triggers)")
    with connection.cursor() as cursor:
        for name in SQLITE_TRIGGERS:
            cursor.execute("DROP TRIGGER " + name)
    missed = send(alice, "Arrosage des plantes", to=["bob"]).message
    assert search(bob, community, "arrosage") == []
    assert sqlite_triggers_restore(connection) is True
    assert search(bob, community, "arrosage") == [missed["id"]]
    assert sqlite_triggers_restore(connection) is False


# The HTTP endpoint.


def test_http_search_answers_message_objects(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """GET /api/communities/<slug>/search/?q= answers 200 with the messages."""
    sent = send(alice, "Fête des voisins", to=["bob"]).message
    response = logged_in(bob).get(search_path(), {"q": "FETE"})
    assert response.status_code == 200
    assert response.json() == [sent]


@pytest.mark.parametrize("query", ["", " ", " \t\n ", "\u00a0", "x" * 201])
def test_http_empty_blank_or_long_query_is_bad_request(alice: User, query: str) -> None:
    """An empty or blank query, or one over 200 characters, gets 400."""
    response = logged_in(alice).get(search_path(), {"q": query})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_http_missing_query_is_bad_request(alice: User) -> None:
    """No `q` at all gets 400 bad_request."""
    response = logged_in(alice).get(search_path())
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_http_query_of_200_characters_is_accepted(alice: User) -> None:
    """200 characters is within the cap."""
    response = logged_in(alice).get(search_path(), {"q": "é" * 200})
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_http_odd_characters_answer_200(
    send: Send, alice: User, bob: User, query: str
) -> None:
    """Over HTTP too, no query characters cause an error."""
    send(alice, "La fête de l'école", to=["bob"])
    response = logged_in(bob).get(search_path(), {"q": query})
    assert response.status_code == 200


def test_http_invalid_utf8_in_query_answers_200(alice: User) -> None:
    """Bytes that are not UTF-8 in the query string are no error either."""
    response = logged_in(alice).get(search_path() + "?q=%ED%A0%80%FF")
    assert response.status_code == 200


def test_http_suspended_member_gets_not_found(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A suspended member gets 404 not_found, as for any community not theirs."""
    send(alice, "Fête", to=["bob"])
    membership_suspend(membership=Membership.objects.get(user=bob, community=community))
    response = logged_in(bob).get(search_path(), {"q": "fete"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("slug", ["la-croix", "nowhere"])
def test_http_other_or_unknown_community_gets_not_found(
    other_community: Community, alice: User, slug: str
) -> None:
    """A community the resident is not in and one that does not exist answer
    the same 404."""
    response = logged_in(alice).get(search_path(slug), {"q": "fete"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_http_logged_out_gets_401(alice: User) -> None:
    """Without a session the search answers 401."""
    response = Client().get(search_path(), {"q": "fete"})
    assert response.status_code == 401
