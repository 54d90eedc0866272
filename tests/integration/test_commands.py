"""Operator commands, run through call_command against the real database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from conversations.models import (
    Community,
    Conversation,
    Membership,
    Message,
    Participant,
    Revocation,
    User,
)

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write_csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "residents.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


# createcommunity


def test_createcommunity_creates_then_is_idempotent() -> None:
    """A second run with the same slug keeps one row and says so."""
    out1, _ = run("createcommunity", "bourg-centre", "--name", "Bourg Centre")
    out2, _ = run("createcommunity", "bourg-centre", "--name", "Bourg Centre")
    assert "Created" in out1
    assert "Already existed" in out2
    assert Community.objects.filter(slug="bourg-centre").count() == 1


def test_createcommunity_rerun_updates_the_name() -> None:
    """Re-running with a new name renames the existing community."""
    run("createcommunity", "bourg-centre", "--name", "Ancien nom")
    run("createcommunity", "bourg-centre", "--name", "Nouveau nom")
    assert Community.objects.get(slug="bourg-centre").name == "Nouveau nom"


def test_createcommunity_refuses_an_invalid_slug() -> None:
    """A slug with spaces or slashes is refused and nothing is created."""
    with pytest.raises(CommandError, match="Invalid slug"):
        run("createcommunity", "bad slug/x", "--name", "X")
    assert not Community.objects.exists()


# addresident


@pytest.fixture
def bourg() -> Community:
    run("createcommunity", "bourg-centre", "--name", "Bourg Centre")
    return Community.objects.get(slug="bourg-centre")


def test_addresident_creates_user_and_active_membership(bourg: Community) -> None:
    """addresident creates the user with password and display name, as a member."""
    out, _ = run(
        "addresident",
        "bourg-centre",
        "alice",
        "--email",
        "alice@example.org",
        "--password",
        "s3cret-pass",
        "--name",
        "Alice Martin",
    )
    assert "created" in out
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.org"
    assert user.display_name == "Alice Martin"
    assert user.check_password("s3cret-pass")
    assert Membership.objects.get(user=user, community=bourg).is_active


def test_addresident_is_idempotent(bourg: Community) -> None:
    """Running addresident twice leaves one user and one membership."""
    args = ("addresident", "bourg-centre", "bob", "--email", "bob@example.org")
    run(*args)
    out, _ = run(*args)
    assert "updated" in out
    assert User.objects.filter(username="bob").count() == 1
    assert Membership.objects.filter(user__username="bob").count() == 1


def test_addresident_without_password_gives_unusable_password(
    bourg: Community,
) -> None:
    """A resident added without a password cannot log in with any password."""
    run("addresident", "bourg-centre", "bob", "--email", "bob@example.org")
    assert not User.objects.get(username="bob").has_usable_password()


def test_addresident_reactivates_a_suspended_membership(bourg: Community) -> None:
    """addresident on a suspended member makes them active again."""
    args = ("addresident", "bourg-centre", "bob", "--email", "bob@example.org")
    run(*args)
    run("suspendresident", "bourg-centre", "bob")
    membership = Membership.objects.get(user__username="bob")
    assert not membership.is_active
    assert Revocation.objects.filter(user=membership.user).exists()
    run(*args)
    membership.refresh_from_db()
    assert membership.is_active


def test_addresident_updates_email_and_keeps_password(bourg: Community) -> None:
    """A re-run with a new email updates it and keeps the password."""
    run(
        "addresident", "bourg-centre", "bob", "--email", "a@x.org", "--password", "pw-1"
    )
    run("addresident", "bourg-centre", "bob", "--email", "b@x.org")
    user = User.objects.get(username="bob")
    assert user.email == "b@x.org"
    assert user.check_password("pw-1")


def test_addresident_needs_an_existing_community() -> None:
    """addresident to an unknown community fails and creates no user."""
    with pytest.raises(CommandError, match="createcommunity"):
        run("addresident", "nowhere", "bob", "--email", "bob@example.org")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("username", "email", "reason"),
    [("bob smith", "bob@example.org", "username"), ("bob", "not-an-email", "email")],
)
def test_addresident_refuses_invalid_values(
    bourg: Community, username: str, email: str, reason: str
) -> None:
    """An invalid username or email is refused with the reason."""
    with pytest.raises(CommandError, match=reason):
        run("addresident", "bourg-centre", username, "--email", email)
    assert not User.objects.exists()


# import_residents


def test_import_reports_created_updated_and_rejected_rows(
    bourg: Community, tmp_path: Path
) -> None:
    """Each valid row is created or updated; each bad row is rejected with a
    reason and its line number; the summary counts all three."""
    run("addresident", "bourg-centre", "bob", "--email", "old@example.org")
    path = write_csv(
        tmp_path,
        "username,email,display_name,password\n"
        "alice,alice@example.org,Alice Martin,pw-alice-1\n"
        "bob,bob@example.org,Bob Lefèvre,\n"
        "carol,not-an-email,Carole,\n"
        "dave,dave@example.org,Dave,pw,extra\n"
        "bad name,bad@example.org,Bad,\n"
        "émile,emile@example.org,Émile Zola,\n",
    )
    out, err = run("import_residents", "bourg-centre", path)
    assert "created 2, updated 1, rejected 3" in out
    assert "line 4: rejected: invalid email 'not-an-email'" in err
    assert "line 5: rejected: too many columns" in err
    assert "line 6: rejected: invalid username" in err
    assert set(
        Membership.objects.filter(community=bourg).values_list(
            "user__username", flat=True
        )
    ) == {"alice", "bob", "émile"}
    assert User.objects.get(username="bob").email == "bob@example.org"
    assert User.objects.get(username="bob").display_name == "Bob Lefèvre"
    assert User.objects.get(username="alice").check_password("pw-alice-1")
    assert not User.objects.filter(username__in=["carol", "dave"]).exists()


def test_import_is_idempotent(bourg: Community, tmp_path: Path) -> None:
    """Importing the same file twice creates nothing the second time."""
    path = write_csv(
        tmp_path,
        "username,email,display_name\nalice,alice@example.org,Alice\n"
        "bob,bob@example.org,Bob\n",
    )
    run("import_residents", "bourg-centre", path)
    out, _ = run("import_residents", "bourg-centre", path)
    assert "created 0, updated 2, rejected 0" in out
    assert User.objects.count() == 2


def test_import_reactivates_suspended_members(bourg: Community, tmp_path: Path) -> None:
    """A suspended resident listed in the file becomes active again."""
    run("addresident", "bourg-centre", "bob", "--email", "bob@example.org")
    run("suspendresident", "bourg-centre", "bob")
    path = write_csv(tmp_path, "username,email,display_name\nbob,bob@example.org,B\n")
    run("import_residents", "bourg-centre", path)
    assert Membership.objects.get(user__username="bob").is_active


def test_import_accepts_a_utf8_bom_and_quoted_fields(
    bourg: Community, tmp_path: Path
) -> None:
    """A spreadsheet export (BOM, quoted comma) imports cleanly."""
    path = tmp_path / "export.csv"
    path.write_text(
        'username,email,display_name\r\nzoe,zoe@example.org,"Zoé, du 12"\r\n',
        encoding="utf-8-sig",
    )
    out, err = run("import_residents", "bourg-centre", str(path))
    assert "created 1, updated 0, rejected 0" in out
    assert err == ""
    assert User.objects.get(username="zoe").display_name == "Zoé, du 12"


@pytest.mark.parametrize(
    "header",
    [
        "email,username,display_name",
        "username,email",
        "username,email,display_name,password,role",
        "",
    ],
)
def test_import_refuses_a_bad_header(
    bourg: Community, tmp_path: Path, header: str
) -> None:
    """A wrong header fails the whole file with a message naming the expected one."""
    path = write_csv(tmp_path, header + "\nalice,alice@example.org,Alice\n")
    with pytest.raises(CommandError, match="username,email,display_name"):
        run("import_residents", "bourg-centre", path)
    assert not User.objects.exists()


def test_import_rejects_multiline_display_name(
    bourg: Community, tmp_path: Path
) -> None:
    """A display name spanning lines is rejected (it would reach mail headers)."""
    path = write_csv(
        tmp_path,
        'username,email,display_name\nalice,alice@example.org,"Alice\nBcc: x"\n',
    )
    out, err = run("import_residents", "bourg-centre", path)
    assert "rejected 1" in out
    assert "display_name" in err
    assert not User.objects.exists()


def test_import_needs_community_and_readable_file(
    bourg: Community, tmp_path: Path
) -> None:
    """Unknown community and missing file are clear command errors."""
    path = write_csv(tmp_path, "username,email,display_name\n")
    with pytest.raises(CommandError, match="createcommunity"):
        run("import_residents", "nowhere", path)
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_residents", "bourg-centre", str(tmp_path / "missing.csv"))


# seed_demo


def test_seed_demo_creates_a_live_demo_then_nothing_new() -> None:
    """seed_demo makes residents who can log in, with conversations; a second run
    creates no row at all."""
    out, _ = run("seed_demo")
    assert "voisins-demo" in out
    counts = [
        model.objects.count()
        for model in (Community, User, Membership, Conversation, Participant, Message)
    ]
    assert counts[0] == 1
    assert counts[3] == 3
    assert counts[5] == 6
    assert User.objects.get(username="alice").check_password("voisins-demo")
    run("seed_demo")
    assert [
        model.objects.count()
        for model in (Community, User, Membership, Conversation, Participant, Message)
    ] == counts


def test_suspendresident_suspends_and_writes_revocation(bourg: Community) -> None:
    """suspendresident suspends and records a revocation for that community."""
    run("addresident", "bourg-centre", "bob", "--email", "bob@example.org")
    run("suspendresident", "bourg-centre", "bob")
    revocation = Revocation.objects.get()
    assert revocation.community_id == bourg.pk
    assert revocation.user.username == "bob"
    assert revocation.session_hash == ""
    out, _ = run("suspendresident", "bourg-centre", "bob", "--reactivate")
    assert "Reactivated" in out
    assert Membership.objects.get(user__username="bob").is_active


@pytest.mark.django_db
def test_adding_a_resident_again_with_the_same_password_changes_nothing() -> None:
    """An idempotent re-import: the stored hash stays, no revocation is
    written, no "password changed" enters the resident's history."""
    from conversations.models import AccountEvent, Revocation
    from conversations.services.access import community_create, resident_add

    community, _ = community_create(slug="q", name="Q")
    user, _ = resident_add(
        community=community,
        username="ana",
        email="a@example.org",
        password="pw-Ana-42!",
    )
    stored = user.password
    revocations = Revocation.objects.count()
    resident_add(
        community=community,
        username="ana",
        email="a@example.org",
        password="pw-Ana-42!",
    )
    user.refresh_from_db()
    assert user.password == stored
    assert Revocation.objects.count() == revocations
    assert not AccountEvent.objects.filter(user=user, kind="password_changed").exists()
