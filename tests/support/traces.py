"""Looking for what should be gone: every row of every table of a database,
and every file under a folder, searched for some strings.

Works with any DB-API cursor (Django's, sqlite3's, psycopg's), so that the
end-to-end tests can scan a deployment's database from outside.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def site_cursor(database_url: str) -> Iterator[tuple[Any, str]]:
    """A cursor on a deployment's database, from outside it, and its vendor
    ("sqlite" or "postgresql"); committed when the block ends."""
    if database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        connection: Any = sqlite3.connect(path, timeout=30)
        vendor = "sqlite"
    else:
        import psycopg

        connection = psycopg.connect(database_url)
        vendor = "postgresql"
    try:
        cursor = connection.cursor()
        yield cursor, vendor
        connection.commit()
    finally:
        connection.close()


def table_names(cursor: Any, vendor: str) -> list[str]:
    """Every table: Django's, the job queue's, the search index's (SQLite's
    FTS shadow tables included), anything a migration made."""
    if vendor == "sqlite":
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    return sorted(row[0] for row in cursor.fetchall())


def row_bytes(cursor: Any, vendor: str, table: str) -> Iterator[bytes]:
    """Each row of `table` as bytes: every column, text and binary alike
    (PostgreSQL: the row's text form, every column in it)."""
    quoted = '"' + table.replace('"', '""') + '"'
    if vendor == "sqlite":
        cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (a table name)
    else:
        cursor.execute(f"SELECT t::text FROM {quoted} AS t")  # noqa: S608
    for row in cursor.fetchall():
        yield b"\x00".join(_bytes(value) for value in row)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def spellings(needle: str) -> list[bytes]:
    """A string as a table may hold it: as is, and escaped as JSON does
    by default (Django's JSONField on SQLite, the admin's change messages)."""
    escaped = json.dumps(needle)[1:-1]
    return sorted({needle.encode("utf-8"), escaped.encode("utf-8")})


def database_traces(
    cursor: Any, vendor: str, needles: Iterable[str]
) -> dict[str, list[str]]:
    """For each needle found anywhere, the tables it was found in."""
    wanted = {needle: spellings(needle) for needle in needles}
    found: dict[str, list[str]] = {}
    for table in table_names(cursor, vendor):
        for data in row_bytes(cursor, vendor, table):
            for needle, forms in wanted.items():
                if any(form in data for form in forms):
                    found.setdefault(needle, [])
                    if table not in found[needle]:
                        found[needle].append(table)
    return found


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def file_traces(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """For each needle found in a file's path or content, the files."""
    wanted = {needle: spellings(needle) for needle in needles}
    found: dict[str, list[str]] = {}
    for path in files_under(root):
        data = path.read_bytes() + b"\x00" + str(path).encode("utf-8")
        for needle, forms in wanted.items():
            if any(form in data for form in forms):
                found.setdefault(needle, []).append(str(path.relative_to(root)))
    return found
