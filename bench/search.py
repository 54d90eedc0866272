"""`make bench-search`: search latency on PostgreSQL with a million messages.

Creates a private database on the machine's PostgreSQL (127.0.0.1:5432, user
postgres, trust auth; TEST_POSTGRES_HOST, _PORT, _USER change that), applies
the migrations (so the index is the one 0006_search creates), fills it with
generated rows in SQL, then times `message_search` (the selector the API
calls, serialization included) for a typical and a heavy resident and
prints EXPLAIN (ANALYZE, BUFFERS) of each search query. The database is
dropped at the end, also after an error or Ctrl-C.

    python -m bench.search [--messages 1000000] [--runs 20]

The rows are consistent by construction, so the load bypasses the foreign
key triggers (session_replication_role = replica, which needs a superuser)
and builds the message indexes after the rows, as a restore would.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.support.servers import PostgresServer  # noqa: E402

COMMUNITIES = 100
RESIDENTS_PER_COMMUNITY = 100
# Each resident talks with the next PAIRS_PER_RESIDENT neighbours: about ten
# conversations each.
PAIRS_PER_RESIDENT = 5
# The heavy resident: one conversation with each resident of community 1,
# and every HEAVY_EVERY-th message of the whole table.
HEAVY_EVERY = 50

# Neighbourhood vocabulary, most frequent first; a word's frequency falls
# with its rank (index = n * random()^2).
WORDS = (  # noqa: SIM905 (a paragraph, not 120 lines)
    "bonjour merci oui est le la les de des un une et à pour ce soir demain "
    "samedi dimanche vous nous je tu il elle bien voisin voisins rue maison "
    "porte clé chat chien colis facteur poubelles jardin école enfants fête "
    "réunion mairie parking voiture vélo bruit travaux eau électricité "
    "coupure lumière fenêtre balcon escalier ascenseur cave garage marché "
    "boulangerie pharmacie médecin bus train gare pluie neige soleil chaleur "
    "arrosage plantes fleurs arbre haie pelouse barbecue apéritif anniversaire "
    "naissance mariage déménagement cartons aide prêt échelle perceuse outils "
    "bricolage peinture plombier serrurier alarme cambriolage police vigilance "
    "suspect fourgon inconnu sécurité caméra portail code interphone boîte "
    "lettres courrier paquet livraison absence vacances surveillance arrosoir "
    "nourrir poissons chats clés rendre ramener emprunter vendre donner"
).split()
# Planted in exactly one message out of that many: a rare word.
RARE = {"tondeuse": 10_007, "trottinette": 997}

QUERIES = ("bonjour", "fete", "ecole samedi", "trottinette", "tondeuse", "xylophone")


@contextmanager
def private_database(server: PostgresServer) -> Iterator[str]:
    name = f"voisins_bench_search_{os.getpid()}"
    server.create_database(name)
    try:
        yield name
    finally:
        server.drop_database(name)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatsite.settings.local"
    os.environ["DEBUG"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(label: str, cursor: Any, sql: str, params: Any = None) -> float:
    start = time.perf_counter()
    cursor.execute(sql, params)
    elapsed = time.perf_counter() - start
    print(f"  {label}: {elapsed:.1f} s", flush=True)
    return elapsed


def load(messages: int) -> dict[str, float]:
    """Fill the database; returns the seconds each step took."""
    from django.db import connection

    figures: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        indexes = message_secondary_indexes(cursor)
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        timed("residents and conversations", cursor, *people_sql())
        figures["insert messages"] = timed(
            f"{messages:,} messages", cursor, *messages_sql(messages)
        )
        for name, definition in indexes:
            seconds = timed(f"index {name}", cursor, definition)
            if name == "message_body_search":
                figures["create GIN index"] = seconds
        cursor.execute("SET session_replication_role = origin")
        timed("vacuum analyze", cursor, "VACUUM ANALYZE")
        cursor.execute(
            "SELECT pg_size_pretty(pg_relation_size('conversations_message')), "
            "pg_size_pretty(pg_relation_size('message_body_search'))"
        )
        table, index = cursor.fetchone()
        print(f"  table {table}, GIN index {index}")
    return figures


def message_secondary_indexes(cursor: Any) -> list[tuple[str, str]]:
    """Indexes of conversations_message that back no constraint."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = 'conversations_message'::regclass AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)"
    )
    return list(cursor.fetchall())


def people_sql() -> tuple[str, Any]:
    """Communities, residents (one heavy), memberships, pair conversations
    and their participants, from one table of conversations."""
    c, r, p = COMMUNITIES, RESIDENTS_PER_COMMUNITY, PAIRS_PER_RESIDENT
    heavy = c * r + 1
    sql = f"""
    INSERT INTO conversations_community
        (id, slug, name, force_hide_text, created_at)
    SELECT n, 'bench-' || n, 'Bench ' || n, false, now()
    FROM generate_series(1, {c}) n;
    INSERT INTO conversations_user (id, password, is_superuser, username,
        first_name, last_name, email, is_staff, is_active, date_joined,
        display_name, email_status)
    SELECT n, '!', false, 'resident' || n, '', '', '', false, true, now(), '',
        'ok'
    FROM generate_series(1, {heavy}) n;
    INSERT INTO conversations_membership (status, created_at, community_id,
        user_id)
    SELECT 'active', now(), CASE WHEN n = {heavy} THEN 1
        ELSE (n - 1) / {r} + 1 END, n
    FROM generate_series(1, {heavy}) n;
    CREATE TEMP TABLE pairs AS
    SELECT j + 1 AS id, j / ({r} * {p}) + 1 AS community,
        (j / ({r} * {p})) * {r} + mod(j, {r} * {p}) / {p} + 1 AS a,
        (j / ({r} * {p})) * {r}
            + mod(mod(j, {r} * {p}) / {p} + mod(j, {p}) + 1, {r}) + 1 AS b
    FROM generate_series(0, {c * r * p - 1}) j
    UNION ALL
    SELECT {c * r * p} + n, 1, {heavy}, n FROM generate_series(1, {r}) n;
    INSERT INTO conversations_conversation (id, participant_key, created_at,
        community_id)
    SELECT id, 'bench-' || id, now(), community FROM pairs;
    INSERT INTO conversations_participant (last_read_id, conversation_id,
        user_id, muted)
    SELECT 0, id, a, false FROM pairs UNION ALL
    SELECT 0, id, b, false FROM pairs;
    """  # noqa: S608 (numbers of this module)
    return sql, None


def messages_sql(messages: int) -> tuple[str, Any]:
    """Messages spread at random over the pair conversations, every
    HEAVY_EVERY-th one in the heavy resident's; bodies of 4 to 12 words;
    one in 200 deleted (empty body), as the deletion service leaves them."""
    ordinary = COMMUNITIES * RESIDENTS_PER_COMMUNITY * PAIRS_PER_RESIDENT
    rare = " || ".join(
        f"CASE WHEN mod(g, {every}) = 0 THEN ' {word}' ELSE '' END"
        for word, every in RARE.items()
    )
    sql = f"""
    INSERT INTO conversations_message (id, client_id, body, sent_at,
        community_id, conversation_id, sender_id, attachment_count, copy,
        deleted)
    SELECT g, 'bench-' || g,
        CASE WHEN mod(g, 200) = 7 THEN '' ELSE array_to_string(ARRAY(
            SELECT (%(words)s::text[])[1 + floor(power(random(), 2)
                * cardinality(%(words)s::text[]))::int]
            FROM generate_series(1, 4 + mod(g, 9))), ' ') || {rare}
        END,
        now() - make_interval(secs => {messages} - g),
        pairs.community, pairs.id,
        CASE WHEN random() < 0.5 THEN pairs.a ELSE pairs.b END, 0, 0,
        mod(g, 200) = 7
    FROM (
        SELECT g, CASE WHEN mod(g, {HEAVY_EVERY}) = 0
            THEN {ordinary} + 1 + mod(g / {HEAVY_EVERY}, {RESIDENTS_PER_COMMUNITY})
            ELSE 1 + floor(random() * {ordinary})::int END AS conversation
        FROM generate_series(1, {messages}) g
    ) AS picks JOIN pairs ON pairs.id = picks.conversation
    """  # noqa: S608 (numbers and words of this module)
    return sql, {"words": list(WORDS)}


# The server's default, then none: on a small shared machine, starting
# parallel workers can cost more than the scan they share.
PARALLEL_SETTINGS = ("default", "0")


def measure(runs: int) -> list[dict[str, Any]]:
    """Each query for a typical and the heavy resident, with the server's
    parallel workers and without: timings of the selector and the plan of
    its search query."""
    from django.db import connection

    from conversations.models import Community, Participant

    community = Community.objects.get(pk=1)
    heavy = COMMUNITIES * RESIDENTS_PER_COMMUNITY + 1
    rows = []
    for workers in PARALLEL_SETTINGS:
        with connection.cursor() as cursor:
            cursor.execute(f"SET max_parallel_workers_per_gather = {workers}")
        for label, user_id in (("typical", 1), ("heavy", heavy)):
            visible = Participant.objects.filter(user_id=user_id).count()
            print(
                f"\n## {label} resident ({visible} conversations), "
                f"max_parallel_workers_per_gather {workers}\n"
            )
            for query in QUERIES:
                row = measure_one(label, user_id, community, query, runs)
                rows.append({"parallel": workers, **row})
    return rows


def measure_one(
    label: str, user_id: int, community: Any, query: str, runs: int
) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from conversations.selectors.search import message_search

    with CaptureQueriesContext(connection) as captured:
        found = len(message_search(user_id=user_id, community=community, query=query))
    durations = []
    for _ in range(runs):
        start = time.perf_counter()
        message_search(user_id=user_id, community=community, query=query)
        durations.append((time.perf_counter() - start) * 1000)
    durations.sort()
    row = {
        "resident": label,
        "query": query,
        "found": found,
        "median_ms": statistics.median(durations),
        # Nearest rank.
        "p95_ms": durations[math.ceil(len(durations) * 0.95) - 1],
        "max_ms": durations[-1],
    }
    print(
        f"### {query!r}: {found} found, median {row['median_ms']:.1f} ms, "
        f"p95 {row['p95_ms']:.1f} ms, max {row['max_ms']:.1f} ms\n"
    )
    (sql,) = [q["sql"] for q in captured.captured_queries if "tsquery" in q["sql"]]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        print("\n".join("    " + line for (line,) in cursor.fetchall()) + "\n")
    return row


def summary(rows: list[dict[str, Any]], figures: dict[str, float]) -> None:
    print(
        "\n| parallel workers | resident | query | found "
        "| median ms | p95 ms | max ms |"
    )
    print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['parallel']} | {row['resident']} | `{row['query']}` "
            f"| {row['found']} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} "
            f"| {row['max_ms']:.1f} |"
        )
    for step, seconds in figures.items():
        print(f"\n{step}: {seconds:.1f} s", end="")
    print(f"\nload average at the end (1, 5, 15 min): {load_average()}")


def load_average() -> str:
    return ", ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    server = PostgresServer(
        host=os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1"),
        port=int(os.environ.get("TEST_POSTGRES_PORT", "5432")),
        user=os.environ.get("TEST_POSTGRES_USER", "postgres"),
    )
    ok, reason = server.available()
    if not ok:
        print(f"no PostgreSQL: {reason}", file=sys.stderr)
        return 1
    with private_database(server) as name:
        print(f"# search benchmark, database {name}, load average {load_average()}\n")
        setup_django(server.url(name))
        figures = load(args.messages)
        rows = measure(args.runs)
        from django.db import connections

        connections.close_all()
    summary(rows, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
