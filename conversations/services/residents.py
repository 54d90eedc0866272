"""Bringing residents in: one at a time or from a CSV file."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from ..models import Community, User
from .access import resident_add
from .invitations import InviteResult, resident_invite

REQUIRED_COLUMNS = ["username", "email", "display_name"]


class RowError(Exception):
    """A row that cannot be imported; the message says why."""


class CsvFormatError(Exception):
    """The file as a whole is unusable (header missing or wrong)."""


@dataclass(frozen=True, slots=True)
class ResidentRow:
    username: str
    email: str
    display_name: str | None = None
    password: str | None = None


@dataclass(slots=True)
class ImportReport:
    created: int = 0
    updated: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)  # created or updated


def resident_import_row(*, community: Community, row: ResidentRow) -> str:
    """Validate then add one resident; return "created" or "updated"."""
    username = row.username.strip()
    email = row.email.strip()
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise RowError(f"invalid username {username!r}") from None
    if not username or len(username) > 150:
        raise RowError("username must be 1 to 150 characters")
    try:
        validate_email(email)
    except ValidationError:
        raise RowError(f"invalid email {email!r}") from None
    display_name = row.display_name.strip() if row.display_name is not None else None
    if display_name is not None and (
        len(display_name) > 150 or any(ch in display_name for ch in "\r\n\x00")
    ):
        raise RowError("display_name must be one line of at most 150 characters")
    existed = User.objects.filter(username=username).exists()
    _, created = resident_add(
        community=community,
        username=username,
        email=email,
        password=row.password or None,
        display_name=display_name,
    )
    return "created" if created and not existed else "updated"


def residents_import_csv(*, community: Community, text: str) -> ImportReport:
    """Import every valid row; each row is its own transaction."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if header[:3] != REQUIRED_COLUMNS or not set(header) <= {
        *REQUIRED_COLUMNS,
        "password",
    }:
        raise CsvFormatError(
            "The header must be username,email,display_name[,password]; "
            f"found {','.join(header) or 'nothing'}."
        )
    report = ImportReport()
    for record in reader:
        line = reader.line_num
        if None in record:
            report.rejected.append((line, "too many columns"))
            continue
        values = {key.strip(): (value or "") for key, value in record.items()}
        row = ResidentRow(
            username=values["username"],
            email=values["email"],
            display_name=values["display_name"],
            password=values.get("password") or None,
        )
        try:
            # A row is refused before anything is written, and resident_add
            # is one transaction: no transaction here, so that the password
            # hash is computed outside any (see resident_add).
            outcome = resident_import_row(community=community, row=row)
        except RowError as error:
            report.rejected.append((line, str(error)))
            continue
        if outcome == "created":
            report.created += 1
        else:
            report.updated += 1
        report.usernames.append(row.username.strip())
    return report


def residents_invite(
    *, community: Community, usernames: list[str]
) -> dict[str, InviteResult]:
    """Invite each resident who has no usable password (the others are
    reported, not emailed); the links land in `community`."""
    users = User.objects.filter(username__in=usernames).order_by("username")
    return {
        user.username: resident_invite(user=user, community=community) for user in users
    }
