"""Search in the resident's own messages of one community.

Every word of the query must be in the body; case and accents are ignored.
How a word matches depends on the database (search_index.py):

- PostgreSQL: whole words, French stemming: "fete" finds "fêtes" and
  "Fête", "ecole" finds "l'école"; "réu" does not find "réunion". A query of
  French stop words only ("le de") finds nothing.
- SQLite (the embedded default): each word also matches as the start of a
  word, which stands in for the stemmer FTS5 lacks: "fete" finds "fêtes",
  "réu" finds "réunion".

Nothing the resident types is an operator: quotes, `*`, `-`, `OR`, `NEAR`
and parentheses are plain text (PostgreSQL's `plainto_tsquery` parses no
syntax; on SQLite each word is quoted).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.db.models.expressions import RawSQL

from ..models import Community, Message, Participant
from ..search_index import body_vector_sql
from ..wire.limits import SEARCH_LIMIT
from ..wire.schema import MessageObject
from .messages import message_objects


def message_search(
    *, user_id: int, community: Community, query: str, limit: int = SEARCH_LIMIT
) -> list[MessageObject]:
    """The resident's messages in the community (sent and received) that
    match every word of `query`, newest first, at most `limit`. Deleted
    messages never match. The caller has checked that the resident is an
    active member (access.community_get_for_user)."""
    # PostgreSQL refuses NUL in text and FTS5 ends a string at it.
    text = query.replace("\x00", " ").strip()
    if not text:
        return []
    # A short list of ids, not a subquery: the planner then knows how few
    # conversations it has to look in (bench/README.md, "Search").
    conversation_ids = list(
        Participant.objects.filter(
            user_id=user_id, conversation__community_id=community.pk
        ).values_list("conversation_id", flat=True)
    )
    if not conversation_ids:
        return []
    newest = (
        Message.objects.filter(
            _body_matches(text), conversation_id__in=conversation_ids, deleted=False
        )
        .order_by("-id")
        .values("id")[:limit]
    )
    # Senders joined to the `limit` rows found, not before: joining first,
    # PostgreSQL would hash the whole user table for a few hundred matches.
    rows = list(
        Message.objects.select_related("sender").filter(id__in=newest).order_by("-id")
    )
    return message_objects(rows, community_slug=community.slug)


def _body_matches(text: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(_TsMatch(F("body"), Value(text)))
    if connection.vendor == "sqlite":
        return Q(
            id__in=RawSQL(
                "SELECT rowid FROM conversations_message_search "
                "WHERE conversations_message_search MATCH %s",
                [fts5_query(text)],
            )
        )
    raise NotImplementedError(f"no message search on {connection.vendor}")


class _TsMatch(Func):
    """PostgreSQL: the body (the indexed expression) holds every word of the
    text. Compiled from expressions, not raw SQL, so that the body column is
    the one of the query's own alias of the table (U0 in a subquery)."""

    output_field = BooleanField()

    def as_sql(  # type: ignore[override]
        self, compiler: Any, connection: Any, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        body, text = self.get_source_expressions()
        body_sql, body_params = compiler.compile(body)
        text_sql, text_params = compiler.compile(text)
        sql = (
            f"{body_vector_sql(body_sql)} @@ "
            f"plainto_tsquery('voisins_fr'::regconfig, {text_sql})"
        )
        return sql, [*body_params, *text_params]


def fts5_query(text: str) -> str:
    """An FTS5 expression where every whitespace-separated word of `text` is
    a quoted string with a prefix mark, all required: `"l'école"* "OR"*`.

    Inside quotes FTS5 sees no operator; its tokenizer splits a quoted word
    on punctuation into a phrase (`l'école` must appear as written), and a
    word with no letter or digit (`"*"`) drops out of the query."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in text.split())
