"""Production settings, and the canary: no message body or session cookie in
any log line.

The settings checks run `manage.py` and a small Django client script in
child processes with chatsite.settings.production and a production-like
environment; the canary drives a real daphne at LOG_LEVEL=INFO with a
notification worker and an SMTP server.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.support.client import HttpClient, login, open_socket
from tests.support.servers import PYTHON, REPO_ROOT, Site

from .conftest import make_hood
from .figures import record

pytestmark = pytest.mark.timeout(180)


def production_env(site: Site, root: Path) -> dict[str, str]:
    return site.env(
        DJANGO_SETTINGS_MODULE="chatsite.settings.production",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="chat.example.org",
        SITE_URL="https://chat.example.org",
        STATIC_ROOT=str(root / "static-prod"),
        DEBUG="",
    )


def test_check_deploy_is_clean(sqlite_site: Site, rel_root: Path) -> None:
    """`manage.py check --deploy` reports nothing with production settings."""
    env = production_env(sqlite_site, rel_root)
    result = subprocess.run(
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    record(
        "check_deploy",
        exit_code=result.returncode,
        issues=result.stderr.count("?:") + result.stdout.count("?:"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


HEADERS_SCRIPT = textwrap.dedent(
    """
    import json, django
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from conversations.models import User
    call_command("collectstatic", "--no-input", "-v", "0")
    User.objects.filter(username="prod_header_check").delete()
    User.objects.create_user("prod_header_check", "p@example.org", "pw-Prod-42-x")
    client = Client(HTTP_HOST="chat.example.org", HTTP_X_FORWARDED_PROTO="https")
    page = client.get("/accounts/login/", secure=True)
    plain = Client(HTTP_HOST="chat.example.org").get("/accounts/login/")
    logged = client.post(
        "/accounts/login/",
        {"username": "prod_header_check", "password": "pw-Prod-42-x",
         "csrfmiddlewaretoken": client.cookies["csrftoken"].value},
        secure=True, HTTP_REFERER="https://chat.example.org/accounts/login/",
    )
    app = client.get("/", secure=True)
    session = client.cookies["sessionid"]
    csrf = client.cookies["csrftoken"]
    print(json.dumps({
        "status": page.status_code,
        "plain_http": [plain.status_code, plain.get("Location", "")],
        "login": logged.status_code,
        "app": app.status_code,
        "hsts": page.get("Strict-Transport-Security", ""),
        "frame": app.get("X-Frame-Options", ""),
        "csp": app.get("Content-Security-Policy", ""),
        "nosniff": app.get("X-Content-Type-Options", ""),
        "referrer": app.get("Referrer-Policy", ""),
        "session": {"secure": bool(session["secure"]),
                    "httponly": bool(session["httponly"]),
                    "samesite": session["samesite"]},
        "csrf_secure": bool(csrf["secure"]),
    }))
    """
)


def test_production_headers_and_cookies(sqlite_site: Site, rel_root: Path) -> None:
    """Behind the TLS proxy: HSTS for a year with subdomains, plain http
    redirected to https, X-Frame-Options DENY, a CSP with no inline script
    and no framing, nosniff, and Secure HttpOnly SameSite cookies."""
    env = production_env(sqlite_site, rel_root)
    result = subprocess.run(
        [PYTHON, "-c", HEADERS_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    record("production_headers", **found)
    assert found["status"] == 200
    assert found["login"] == 302
    assert found["app"] == 200
    assert found["plain_http"][0] == 301
    assert found["plain_http"][1].startswith("https://chat.example.org/")
    assert "max-age=31536000" in found["hsts"]
    assert "includeSubDomains" in found["hsts"]
    assert found["frame"] == "DENY"
    assert found["nosniff"] == "nosniff"
    csp = found["csp"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
    assert "object-src 'none'" in csp
    assert found["session"] == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert found["csrf_secure"] is True


async def test_canary_reaches_no_log(sqlite_site: Site, rel_root: Path) -> None:
    """A message with a unique canary body goes through daphne (LOG_LEVEL=INFO),
    a worker and an SMTP server, with errors on the way (a non-member
    recipient, a too-long body, broken JSON carrying the canary); no log line
    of any process contains the canary or the session cookie."""
    from tests.notifications.doubles import SmtpServer, WorkerProcess

    canary = f"canary-{secrets.token_hex(12)}"
    smtp = SmtpServer().start()
    extra = {
        "LOG_LEVEL": "INFO",
        "EMAIL_URL": smtp.url,
        "NOTIFY_EMAIL_DELAY_SECONDS": "1",
    }
    server = sqlite_site.server("daphne-canary-", **extra)
    worker = WorkerProcess(
        env=sqlite_site.env(**extra), log_path=rel_root / "canary-worker.log"
    ).start()
    try:
        hood = make_hood(sqlite_site, ["quin", "rui"], "canary")
        cookies = login(server.base_url, hood.user("quin"))
        session = cookies["sessionid"]
        socket = await open_socket(
            server.ws_url(hood.slug), cookies, origin=server.origin
        )
        try:
            ack = await socket.send_message(
                client_id="canary-1", body=canary, to=[hood.user("rui")]
            )
            assert ack["type"] == "message.ack", ack
            refused = await socket.send_message(
                client_id="canary-2", body=canary, to=["nobody-" + canary]
            )
            assert refused["code"] == "not_member"
            long = await socket.send_message(
                client_id="canary-3", body=canary * 400, to=[hood.user("rui")]
            )
            assert long["code"] == "too_long"
            await socket.send_raw('{"type": "message.send", "body": "' + canary)
            assert (await socket.recv_json())["code"] == "bad_request"
        finally:
            await socket.close()
        HttpClient(server.base_url, cookies).post(
            f"/api/communities/{hood.slug}/messages/",
            {"client_id": "canary-4", "body": canary, "to": ["nobody-" + canary]},
        )
        mails = smtp.wait_for(f"{hood.user('rui')}@example.org", timeout=60)
        assert canary in mails[0].part("text/plain")
    finally:
        worker.stop()
        server.stop()
        smtp.stop()
    logs = {
        "daphne": server.log(),
        "worker": worker.log(),
    }
    hits = {
        name: text.count(canary) + text.count(session) for name, text in logs.items()
    }
    record(
        "canary",
        log_bytes=sum(len(t) for t in logs.values()),
        log_lines=sum(t.count("\n") for t in logs.values()),
        canary_or_cookie_hits=sum(hits.values()),
        email_delivered=True,
    )
    assert hits == {"daphne": 0, "worker": 0}, hits
    assert sum(t.count("\n") for t in logs.values()) > 0
