"""The HTTP API through Django's test client: auth, CSRF, bodies, status codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from conversations.models import Community, Message, User

from .conftest import Send

pytestmark = pytest.mark.django_db


def logged_in(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def csrf_token(client: Client) -> str:
    """The csrftoken cookie, as the login page hands it out."""
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    return client.cookies["csrftoken"].value


def post_json(client: Client, path: str, data: Any, **headers: str) -> Any:
    return client.post(
        path,
        data=json.dumps(data),
        content_type="application/json",
        headers=headers,
    )


SEND_PATH = "/api/communities/bourg-centre/messages/"


# Authentication and CSRF.


@pytest.mark.parametrize(
    "path",
    [
        "/api/communities/",
        "/api/communities/bourg-centre/members/",
        "/api/communities/bourg-centre/conversations/",
        "/api/conversations/1/messages/",
    ],
)
def test_logged_out_reads_get_401_with_code_and_detail(alice: User, path: str) -> None:
    """Without a session every API read answers 401 {"code", "detail"}."""
    response = Client().get(path)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"code", "detail"}
    assert body["code"] == "not_authenticated"


def test_logged_out_send_gets_401_and_stores_nothing(alice: User, bob: User) -> None:
    """A send without a session is refused and stores nothing."""
    response = post_json(
        Client(), SEND_PATH, {"client_id": "x", "body": "hi", "to": ["bob"]}
    )
    assert response.status_code == 401
    assert set(response.json()) == {"code", "detail"}
    assert not Message.objects.exists()


def test_post_without_csrf_token_is_refused(alice: User, bob: User) -> None:
    """A logged-in POST without the CSRF token gets 403 and stores nothing."""
    client = logged_in(alice, csrf=True)
    response = post_json(
        client, SEND_PATH, {"client_id": "c", "body": "hi", "to": ["bob"]}
    )
    assert response.status_code == 403
    assert set(response.json()) == {"code", "detail"}
    assert not Message.objects.exists()


def test_post_with_wrong_csrf_token_is_refused(alice: User, bob: User) -> None:
    """A token that does not match the cookie is refused."""
    client = logged_in(alice, csrf=True)
    csrf_token(client)
    response = post_json(
        client,
        SEND_PATH,
        {"client_id": "c", "body": "hi", "to": ["bob"]},
        X_CSRFToken="x" * 32,
    )
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_post_with_csrf_token_is_accepted(alice: User, bob: User) -> None:
    """With the csrftoken cookie echoed in X-CSRFToken the send goes through."""
    client = logged_in(alice, csrf=True)
    token = csrf_token(client)
    response = post_json(
        client,
        SEND_PATH,
        {"client_id": "c", "body": "hi", "to": ["bob"]},
        X_CSRFToken=token,
    )
    assert response.status_code == 201


# Sending.


def test_send_answers_201_then_200_with_the_same_message(
    alice: User, bob: User, community: Community
) -> None:
    """First POST creates (201); a resend of the client_id answers 200, same object."""
    client = logged_in(alice)
    data = {"client_id": "http-1", "body": "  Bonjour Bob  ", "to": ["bob"]}
    first = post_json(client, SEND_PATH, data)
    second = post_json(client, SEND_PATH, data)
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json() == second.json()
    message = first.json()
    assert message["body"] == "Bonjour Bob"
    assert message["sender"] == "alice"
    assert message["participants"] == ["alice", "bob"]
    assert message["community"] == community.slug
    assert message["client_id"] == "http-1"
    assert set(message) == {
        "id",
        "conversation",
        "community",
        "sender",
        "participants",
        "body",
        "sent_at",
        "client_id",
        "rev",
        "edited_at",
        "deleted",
        "attachments",
    }
    assert (message["rev"], message["edited_at"]) == (message["id"], None)
    assert (message["deleted"], message["attachments"]) == (False, [])
    assert Message.objects.count() == 1


def test_send_over_http_is_idempotent_with_the_socket_path(
    send: Send, alice: User, bob: User
) -> None:
    """A client_id already used by the service (socket path) answers 200."""
    existing = send(alice, "Par le socket", to=["bob"], client_id="both-1").message
    response = post_json(
        logged_in(alice),
        SEND_PATH,
        {"client_id": "both-1", "body": "Par HTTP", "to": ["bob"]},
    )
    assert response.status_code == 200
    assert response.json() == existing


def test_send_to_conversation_by_id(send: Send, alice: User, bob: User) -> None:
    """A POST naming a conversation of the sender lands in it."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    response = post_json(
        logged_in(bob),
        SEND_PATH,
        {"client_id": "r-1", "body": "Réponse", "conversation": conversation},
    )
    assert response.status_code == 201
    assert response.json()["conversation"] == conversation


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "bad_request"),
        ([1, 2], "bad_request"),
        ({"body": "x", "to": ["bob"]}, "bad_request"),
        ({"client_id": "c", "to": ["bob"]}, "bad_request"),
        ({"client_id": "c", "body": "   ", "to": ["bob"]}, "bad_request"),
        ({"client_id": "c", "body": "x"}, "bad_request"),
        (
            {"client_id": "c", "body": "x", "to": ["bob"], "conversation": 1},
            "bad_request",
        ),
        ({"client_id": "c", "body": "x", "to": []}, "bad_request"),
        ({"client_id": "c", "body": "x", "conversation": True}, "bad_request"),
        ({"client_id": "c", "body": "x" * 5001, "to": ["bob"]}, "too_long"),
        ({"client_id": "c", "body": "x", "to": ["alice"]}, "bad_request"),
        ({"client_id": "c", "body": "x", "to": ["nobody"]}, "not_member"),
    ],
)
def test_bad_send_bodies_get_400_with_code(
    alice: User, bob: User, payload: Any, code: str
) -> None:
    """Every malformed body gets 400 {"code", "detail"} and stores nothing."""
    client = logged_in(alice)
    text = payload if isinstance(payload, str) else json.dumps(payload)
    response = client.post(SEND_PATH, data=text, content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert not Message.objects.exists()


def test_send_in_a_community_of_which_one_is_not_member_is_404(
    alice: User, bob: User, other_community: Community
) -> None:
    """Posting into a community one does not belong to is 404, like a missing one."""
    client = logged_in(alice)
    data = {"client_id": "c", "body": "x", "to": ["bob"]}
    foreign = post_json(client, "/api/communities/la-croix/messages/", data)
    missing = post_json(client, "/api/communities/nowhere/messages/", data)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_send_to_others_conversation_is_404_like_a_missing_one(
    send: Send, alice: User, bob: User, mallory: User
) -> None:
    """mallory posting into alice and bob's conversation gets the same 404 as for
    an id that does not exist."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    client = logged_in(mallory)
    foreign = post_json(
        client,
        SEND_PATH,
        {"client_id": "m1", "body": "x", "conversation": conversation},
    )
    missing = post_json(
        client, SEND_PATH, {"client_id": "m2", "body": "x", "conversation": 10**15}
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert Message.objects.count() == 1


# Reading.


def test_communities_lists_the_residents_communities(
    alice: User, other_community: Community
) -> None:
    """GET /api/communities/ lists only the resident's communities."""
    response = logged_in(alice).get("/api/communities/")
    assert response.status_code == 200
    assert response.json() == [
        {"slug": "bourg-centre", "name": "Bourg Centre", "unread": 0}
    ]


def test_members_search(alice: User, bob: User, carol: User) -> None:
    """Members come with display names; ?q= filters on username or display name."""
    client = logged_in(alice)
    everyone = client.get("/api/communities/bourg-centre/members/").json()
    assert [m["username"] for m in everyone] == ["alice", "bob", "carol"]
    found = client.get("/api/communities/bourg-centre/members/", {"q": "lef"}).json()
    assert found == [{"username": "bob", "display_name": "Bob Lefèvre"}]
    assert (
        client.get("/api/communities/bourg-centre/members/", {"q": "zz"}).json() == []
    )


def test_members_of_a_foreign_community_is_404(
    alice: User, other_community: Community
) -> None:
    """Members of a community one is not in: 404, same as an unknown slug."""
    client = logged_in(alice)
    foreign = client.get("/api/communities/la-croix/members/")
    missing = client.get("/api/communities/nowhere/members/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


def test_conversations_list_with_unread(send: Send, alice: User, bob: User) -> None:
    """The conversation list shows participants, last message and unread count."""
    send(alice, "un", to=["bob"])
    last = send(alice, "deux", to=["bob"]).message
    response = logged_in(bob).get("/api/communities/bourg-centre/conversations/")
    assert response.status_code == 200
    assert response.json() == [
        {
            "id": last["conversation"],
            "participants": ["alice", "bob"],
            "last_message": last,
            "unread": 2,
            "muted": False,
            "read_marks": {"alice": 0, "bob": 0},
        }
    ]


def test_messages_page_newest_first_with_before(
    send: Send, alice: User, bob: User
) -> None:
    """History pages come newest first; `before` pages further back."""
    ids = [send(alice, f"m{i}", to=["bob"]).message["id"] for i in range(5)]
    conversation = Message.objects.get(pk=ids[0]).conversation_id
    client = logged_in(bob)
    path = f"/api/conversations/{conversation}/messages/"
    page = client.get(path, {"limit": 2}).json()
    assert [m["id"] for m in page] == [ids[4], ids[3]]
    older = client.get(path, {"limit": 2, "before": ids[3]}).json()
    assert [m["id"] for m in older] == [ids[2], ids[1]]


def test_messages_limit_is_clamped_to_200(alice: User, bob: User, send: Send) -> None:
    """A limit above 200 returns at most 200 messages."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    first = Message.objects.get()
    Message.objects.bulk_create(
        Message(
            conversation_id=conversation,
            community_id=first.community_id,
            sender=alice,
            client_id=f"bulk-{i}",
            body="x",
        )
        for i in range(210)
    )
    response = logged_in(bob).get(
        f"/api/conversations/{conversation}/messages/", {"limit": 1000}
    )
    assert response.status_code == 200
    assert len(response.json()) == 200


@pytest.mark.parametrize(
    "query",
    [{"limit": 0}, {"limit": -5}, {"limit": "many"}, {"before": 0}, {"before": "x"}],
)
def test_messages_bad_query_is_400(
    send: Send, alice: User, bob: User, query: dict[str, Any]
) -> None:
    """Invalid paging parameters get 400 bad_request."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    response = logged_in(bob).get(f"/api/conversations/{conversation}/messages/", query)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_messages_of_others_conversation_is_404_like_a_missing_one(
    send: Send, alice: User, bob: User, mallory: User
) -> None:
    """Someone else's conversation and a missing id give byte-identical 404s."""
    conversation = send(alice, "secret", to=["bob"]).message["conversation"]
    client = logged_in(mallory)
    foreign = client.get(f"/api/conversations/{conversation}/messages/")
    missing = client.get(f"/api/conversations/{conversation + 999}/messages/")
    huge = client.get(f"/api/conversations/{2**63}/messages/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert huge.status_code in {400, 404}
    assert b"secret" not in foreign.content


# Schema and health.


def test_schema_is_openapi_3_with_the_contract_paths() -> None:
    """/api/schema/ is an OpenAPI 3 document listing the contract's endpoints."""
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path, method in [
        ("/api/communities/", "get"),
        ("/api/communities/{slug}/members/", "get"),
        ("/api/communities/{slug}/conversations/", "get"),
        ("/api/conversations/{conversation_id}/messages/", "get"),
        ("/api/communities/{slug}/messages/", "post"),
    ]:
        assert method in paths[path], path
    send_body = paths["/api/communities/{slug}/messages/"]["post"]["requestBody"]
    assert "client_id" in json.dumps(send_body)


def test_healthz_reports_database_ok() -> None:
    """/healthz answers 200 with the database ok (no Redis configured)."""
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "redis": "not configured",
        "status": "ok",
    }
    assert (
        "no-cache" in response.headers["Cache-Control"]
        or "max-age=0" in (response.headers["Cache-Control"])
    )


def test_healthz_stays_200_while_redis_is_down(unused_tcp_port: int) -> None:
    """A process without Redis still commits and answers `sync`: the check a
    proxy polls says "degraded" but keeps it in rotation (nothing listens on
    the port, so Redis is refused)."""
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{unused_tcp_port}/0"):
        response = Client().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error: ")
    assert body["status"] == "degraded"
