"""The wire contract's limits: one definition for the parser, the API
schemas, the AsyncAPI document and docs/protocol.md."""

from __future__ import annotations

MAX_ID = 2**63 - 1
MAX_BODY_CHARS = 5000
MAX_CLIENT_ID_CHARS = 64
MAX_RECIPIENTS = 50
MAX_USERNAME_CHARS = 150
MAX_ATTACHMENTS = 10
# Messages in one sync.batch or one history page.
PAGE_LIMIT = 200
# Half of daphne's 1 MiB frame cap: a sync.batch always fits in one frame.
# daphne's default frame cap is pinned by tests/integration/test_library_internals.py.
SYNC_BATCH_MAX_BYTES = 512 * 1024

# Search: messages in one answer, and characters in a query.
SEARCH_LIMIT = 50
SEARCH_QUERY_MAX_CHARS = 200
