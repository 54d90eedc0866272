"""Delivery status notifications (RFC 3464): does one report a permanent
failure? Pure.

The standard library's parser already splits a message/delivery-status part
into its header blocks (the first for the message, one per recipient); this
reads their Action and Status fields. flufl.bounce was considered: it installs
and runs on Python 3.11, but it classifies by Action alone, so a server that
gave up after days of temporary failures (Action: failed, Status: 4.4.7)
would count as permanent, and its heuristic detectors guess addresses from
the free text of non-standard bounces; neither should silence a resident.
"""

from __future__ import annotations

from email.message import Message


def permanent_failure(message: Message) -> bool:
    """True when some recipient block says Action: failed with a 5.x.x
    Status; a delay, a 4.x.x status or anything that is no DSN is not."""
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, Message):
                continue
            action = str(block.get("Action", "")).strip().lower()
            status = str(block.get("Status", "")).strip()
            if action.startswith("failed") and status.startswith("5."):
                return True
    return False
