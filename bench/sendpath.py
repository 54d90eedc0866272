"""CPU per message of the send path alone, in process (no sockets).

Runs `message_send_many` in batches of 1, 10 and 50 sends (spread over 1 or
10 communities, every recipient online) against a fresh SQLite file or a
fresh PostgreSQL database on 127.0.0.1:5432, and prints the process CPU time
and the wall time per message. CPU time is what to compare: other work on
the machine changes it much less than the wall time. Compare two versions by
running both in the same minutes, alternating:

    python -m bench.sendpath [--postgres] [--tree PATH_TO_A_CHECKOUT]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    os.chdir(args.tree)
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="sendpath-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "chatsite.settings.local"
    database = f"sendpath_{os.getpid()}"
    if args.postgres:
        import psycopg

        admin = "host=127.0.0.1 user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {database}")
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
    try:
        measure("postgres" if args.postgres else "sqlite")
    finally:
        if args.postgres:
            from django.db import connection as django_connection

            django_connection.close()
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE {database}")
    return 0


def measure(label: str) -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from conversations.services.access import community_create, resident_add
    from conversations.services.send import SendRequest, message_send_many

    call_command("migrate", "-v", "0")
    places = [community_create(slug=f"c{k}", name=f"C{k}")[0] for k in range(10)]
    people = {
        (k, j): resident_add(community=place, username=f"u{k}-{j}", email="u@x.org")[0]
        for k, place in enumerate(places)
        for j in range(10)
    }
    online = {
        place.pk: {user.pk: "active" for (k, _), user in people.items() if k == i}
        for i, place in enumerate(places)
    }
    counter = iter(range(10**9))

    def batch(size: int, spread: int) -> None:
        requests = []
        for i in range(size):
            k = i % spread
            sender, recipient = people[(k, i % 10)], people[(k, (i + 1) % 10)]
            requests.append(
                SendRequest.of(
                    sender,
                    places[k],
                    client_id=f"m{next(counter)}",
                    body="hello",
                    to=(recipient.username,),
                )
            )
        message_send_many(requests, presence=online)

    for size, spread in ((1, 1), (10, 1), (10, 10), (50, 1), (50, 10)):
        batch(size, spread)
        rounds = max(3, 60 // size)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            batch(size, spread)
        per = 1000 / (rounds * size)
        print(
            f"{label} batch {size:3d} over {spread:2d} communities: "
            f"cpu {(time.process_time() - cpu) * per:.3f} ms/message, "
            f"wall {(time.perf_counter() - wall) * per:.3f} ms/message"
        )


if __name__ == "__main__":
    sys.exit(main())
