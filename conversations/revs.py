"""Revision numbers: one increasing sequence shared with message ids.

A new message's rev is its id; an edit or a deletion takes the next value of
the same sequence, so every rev is above every id and rev handed out before.
Callers hold the community's send lock, so revs commit in order within a
community, as ids do (a client's `sync` with `since_rev` never skips one).
"""

from __future__ import annotations

from django.db import connection

from .models import Message


def revs_next(count: int = 1) -> list[int]:
    """`count` new revs, ascending. Inside the transaction that uses them."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                "FROM generate_series(1, %s)",
                [table, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        # SQLite: the id is an AUTOINCREMENT key whose high-water mark (never
        # below the largest id) lives in sqlite_sequence, which SQLite
        # documents as writable with ordinary statements; the next insert
        # takes max(seq, max(id)) + 1. The IMMEDIATE transaction holds the
        # write lock.
        cursor.execute(
            "UPDATE sqlite_sequence SET seq = seq + %s WHERE name = %s RETURNING seq",
            [count, table],
        )
        row = cursor.fetchone()
        if row is None:  # no message was ever stored: start the sequence
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)",
                [table, count],
            )
            end = count
        else:
            end = row[0]
    return list(range(end - count + 1, end + 1))
