"""What a sender answers: done, try again later, or not before a time. The
task layer (`tasks.py`) re-enqueues and gives up; senders never enqueue
themselves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Done:
    outcome: str  # stored with the task result: "sent", "skipped", ...


@dataclass(frozen=True, slots=True)
class Retry:
    outcome: str
    attempts: int  # attempts made so far, this one included
    hint: int = 0  # seconds the other side asked us to wait (Retry-After)
    # What is left to do, when only part failed (a push's endpoints).
    remaining: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Defer:
    """Nothing failed, but it must wait (an email held by quiet hours): the
    same job runs again at `until`, and no attempt is counted."""

    outcome: str
    until: datetime


Outcome = Done | Retry | Defer
