"""The full-text index of message bodies, in the database itself.

PostgreSQL: a GIN index on `to_tsvector('voisins_fr', body)`, where
`voisins_fr` is the built-in `french` configuration with the `unaccent`
dictionary in front of the French stemmer. Words are stemmed ("fêtes" finds
"fête") and folded (case, accents, "œ" to "oe"); French stop words ("le",
"de") are not indexed. `to_tsvector(regconfig, text)` is IMMUTABLE, so it can
index an expression as it is; the query must repeat that expression exactly
(`body_vector_sql`) for the planner to use the index. The index follows
every INSERT, UPDATE and DELETE like any index: an edit is found by its new
words, a deleted message's empty body by none.

SQLite: an FTS5 table with external content (the rows of
conversations_message; the index stores only tokens), tokenizer `unicode61
remove_diacritics 2` (case and accents folded, no stemming), kept in step by
three triggers. Django remakes a table on SQLite for some migrations
(AlterField, for one: create a copy, drop the original, rename), and dropping
the table drops its triggers; `sqlite_triggers_restore` puts them back after
every `migrate` (conversations/signals.py).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_TABLE = "conversations_message_search"


def body_vector_sql(column: str) -> str:
    """The indexed expression over `column`, the body column as a query
    names it; the planner uses the index only for this very expression."""
    return f"to_tsvector('voisins_fr'::regconfig, {column})"


POSTGRES_INSTALL = (
    # A trusted extension since PostgreSQL 13: the database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE TEXT SEARCH CONFIGURATION voisins_fr (COPY = pg_catalog.french)",
    # Only these token types can hold non-ASCII letters; the ascii* ones
    # have no accent to remove.
    "ALTER TEXT SEARCH CONFIGURATION voisins_fr "
    "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem",
    "CREATE INDEX message_body_search ON conversations_message "
    f"USING gin ({body_vector_sql('body')})",
)
POSTGRES_UNINSTALL = (
    "DROP INDEX IF EXISTS message_body_search",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS voisins_fr",
    # The unaccent extension stays: something else may have come to use it.
)

SQLITE_CREATE_TABLE = (
    "CREATE VIRTUAL TABLE conversations_message_search USING fts5(body, "
    "content='conversations_message', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')"
)
SQLITE_TRIGGERS = {
    "conversations_message_search_insert": (
        "AFTER INSERT ON conversations_message BEGIN "
        "INSERT INTO conversations_message_search(rowid, body) "
        "VALUES (new.id, new.body); END"
    ),
    # An external-content FTS5 table forgets a row only when told its old
    # text, exactly as it was indexed.
    "conversations_message_search_delete": (
        "AFTER DELETE ON conversations_message BEGIN "
        "INSERT INTO conversations_message_search"
        "(conversations_message_search, rowid, body) "
        "VALUES ('delete', old.id, old.body); END"
    ),
    "conversations_message_search_update": (
        "AFTER UPDATE OF body ON conversations_message BEGIN "
        "INSERT INTO conversations_message_search"
        "(conversations_message_search, rowid, body) "
        "VALUES ('delete', old.id, old.body); "
        "INSERT INTO conversations_message_search(rowid, body) "
        "VALUES (new.id, new.body); END"
    ),
}
SQLITE_REBUILD = (
    "INSERT INTO conversations_message_search(conversations_message_search) "
    "VALUES ('rebuild')"
)


def install(apps: Any, schema_editor: Any) -> None:
    """Migration 0006_search, forwards: the index of the current backend."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in POSTGRES_INSTALL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE_TABLE)
        _sqlite_create_triggers(schema_editor.connection)
        schema_editor.execute(SQLITE_REBUILD)


def uninstall(apps: Any, schema_editor: Any) -> None:
    """Migration 0006_search, backwards."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in POSTGRES_UNINSTALL:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for name in SQLITE_TRIGGERS:
            schema_editor.execute("DROP TRIGGER IF EXISTS " + name)
        schema_editor.execute("DROP TABLE IF EXISTS conversations_message_search")


def sqlite_triggers_restore(connection: BaseDatabaseWrapper) -> bool:
    """On SQLite, recreate the triggers a table remake dropped and rebuild
    the index from the rows (whatever changed meanwhile went unindexed).
    Nothing to do before 0006_search or after it was reversed (no FTS
    table), nor on PostgreSQL. True when something was restored."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT type, name FROM sqlite_master WHERE "
            "(type = 'table' AND name = %s) OR (type = 'trigger' AND name LIKE %s)",
            [SQLITE_TABLE, SQLITE_TABLE + "_%"],
        )
        present = {name for _, name in cursor.fetchall()}
        if SQLITE_TABLE not in present or set(SQLITE_TRIGGERS) <= present:
            return False
        _sqlite_create_triggers(connection)
        cursor.execute(SQLITE_REBUILD)
    return True


def _sqlite_create_triggers(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for name, definition in SQLITE_TRIGGERS.items():
            cursor.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {definition}")


SQLITE_OPTIMIZE = (
    "INSERT INTO conversations_message_search(conversations_message_search) "
    "VALUES ('optimize')"
)


def removed_text_forget(connection: BaseDatabaseWrapper) -> None:
    """Make the index forget the words of emptied or deleted bodies.

    SQLite: the 'delete' a trigger sends only adds a tombstone; the old
    segment keeps the words (readable in conversations_message_search_data)
    until segments are merged. 'optimize' merges them all now, rewriting the
    whole index: for an erasure or a purge, not for each deletion.
    PostgreSQL: the GIN index drops a row's entries when VACUUM reclaims the
    old row version (autovacuum, docs/privacy.md); nothing to do here.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
            [SQLITE_TABLE],
        )
        if cursor.fetchone() is not None:
            cursor.execute(SQLITE_OPTIMIZE)
