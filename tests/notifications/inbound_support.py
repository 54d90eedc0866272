"""`manage.py inbound_mail` as a process, and a mail client that talks to it
with smtplib, command by command, so a test sees the RCPT and DATA answers."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import HOST, PYTHON, REPO_ROOT, free_port, wait_until

REPLY_DOMAIN = "reply.voisins.example.test"
FIXTURES = Path(__file__).resolve().parent / "mail_fixtures"
EXPECTED: dict[str, str] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)
PLACEHOLDER = b"reply+TOKEN@reply.voisins.example.test"


class InboundMailProcess:
    """`manage.py inbound_mail` of a site on a free port, logging to a file."""

    def __init__(self, *, env: dict[str, str], log_path: Path, lmtp: bool) -> None:
        self.env = env
        self.log_path = log_path
        self.lmtp = lmtp
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> InboundMailProcess:
        command = [PYTHON, "manage.py", "inbound_mail", "--host", HOST]
        command += ["--port", str(self.port), *(["--lmtp"] if self.lmtp else [])]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: self._listening() or not self.alive,
            timeout=30,
            what="inbound_mail to listen",
        )
        assert self.alive, self.log()
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1):
                return True
        except OSError:
            return False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM: the command stops listening and exits."""
        if self.alive:
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass(frozen=True)
class Answer:
    """The server's answers to one transaction (DATA's is None when RCPT
    was refused)."""

    rcpt: tuple[int, str]
    data: tuple[int, str] | None


def deliver(
    server: InboundMailProcess, recipient: str, raw: bytes, mail_from: str
) -> Answer:
    """One SMTP (or LMTP) transaction: MAIL, RCPT, then DATA if accepted."""
    client = (
        smtplib.LMTP(HOST, server.port, timeout=30)
        if server.lmtp
        else smtplib.SMTP(HOST, server.port, timeout=30)
    )
    with client:
        client.ehlo()  # LHLO over LMTP
        client.mail(mail_from)
        code, text = client.rcpt(recipient)
        rcpt = (code, text.decode())
        if code != 250:
            return Answer(rcpt, None)
        # smtplib sends bytes as they are: SMTP wants CRLF line ends.
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        try:
            code, text = client.data(crlf)
        except smtplib.SMTPDataError as error:
            code, text = error.smtp_code, error.smtp_error
        return Answer(rcpt, (code, text.decode()))


def reply_fixture(name: str, reply_to: str) -> bytes:
    """A client's reply, addressed to the reply address the email gave."""
    return (FIXTURES / name).read_bytes().replace(PLACEHOLDER, reply_to.encode())


def dsn_fixture(name: str, *, recipient: str, bounce_address: str) -> bytes:
    raw = (FIXTURES / name).read_bytes().replace(b"RECIPIENT", recipient.encode())
    return raw.replace(b"BOUNCE_ADDRESS", bounce_address.encode())
