"""Create benchmark residents and logged-in sessions in bulk, with no password hash.

Run beside the server under test, with the same settings and DATABASE_URL:

    DJANGO_SETTINGS_MODULE=chatsite.settings.local DATABASE_URL=... \\
        python bench/mint_sessions.py --community bench --count 1200 --out c.json

With `--communities N`, N communities (`<community>-000`, ...) of `--count`
residents each (`<prefix>000-00000`, ...): a town.

Residents get an unusable password (no hash is computed) and an active
membership; each gets one database session holding Django's auth keys, as
`login()` would write it. Prints (or writes) JSON: {"cookie": "sessionid",
"community": slug, "residents": {username: session_key},
"communities": {slug: [username, ...]}}.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def town_plan(
    *, slug: str, prefix: str, count: int, communities: int = 1
) -> dict[str, list[str]]:
    """Community slug -> its residents' usernames; one community keeps the
    historical names (`<prefix>00000`, ...) and slug."""
    if communities == 1:
        return {slug: [f"{prefix}{i:05d}" for i in range(count)]}
    return {
        f"{slug}-{k:03d}": [f"{prefix}{k:03d}-{i:05d}" for i in range(count)]
        for k in range(communities)
    }


def mint(
    *, slug: str, count: int, prefix: str, communities: int = 1
) -> dict[str, object]:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from conversations.models import Community, Membership, User

    plan = town_plan(slug=slug, prefix=prefix, count=count, communities=communities)
    names = [name for members in plan.values() for name in members]
    with transaction.atomic():
        places = {
            place: Community.objects.get_or_create(
                slug=place, defaults={"name": f"Bench {place}"}
            )[0]
            for place in plan
        }
        home = {
            name: places[place] for place, members in plan.items() for name in members
        }
        existing = set(
            User.objects.filter(username__in=names).values_list("username", flat=True)
        )
        new_users = []
        for name in names:
            if name in existing:
                continue
            user = User(username=name, email=f"{name}@example.org", display_name=name)
            user.set_unusable_password()
            new_users.append(user)
        User.objects.bulk_create(new_users, batch_size=500)
        users = list(User.objects.filter(username__in=names))
        Membership.objects.bulk_create(
            [Membership(community=home[user.username], user=user) for user in users],
            batch_size=500,
            ignore_conflicts=True,
        )
        store = SessionStore()
        backend = settings.AUTHENTICATION_BACKENDS[0]
        expires = timezone.now() + timedelta(days=1)
        sessions: dict[str, str] = {}
        rows = []
        for user in users:
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = {
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: backend,
                HASH_SESSION_KEY: user.get_session_auth_hash(),
            }
            rows.append(
                Session(
                    session_key=key,
                    session_data=store.encode(data),
                    expire_date=expires,
                )
            )
            sessions[user.username] = key
        Session.objects.bulk_create(rows, batch_size=500)
    return {
        "cookie": settings.SESSION_COOKIE_NAME,
        "community": slug,
        "residents": {name: sessions[name] for name in names},
        "communities": plan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--community", default="bench")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="b")
    parser.add_argument(
        "--communities", type=int, default=1, help="--count residents in each"
    )
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    args = parser.parse_args()
    result = json.dumps(
        mint(
            slug=args.community,
            count=args.count,
            prefix=args.prefix,
            communities=args.communities,
        )
    )
    if args.out:
        args.out.write_text(result)
    else:
        print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
