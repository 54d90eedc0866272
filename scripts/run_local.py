"""Run daphne (and, once it exists, the notification worker) until Ctrl-C.

Used by `make run`: one command for a newcomer, every child stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="8000")
    args = parser.parse_args()
    python = sys.executable
    commands = [
        [
            python,
            "-m",
            "daphne",
            "-b",
            args.host,
            "-p",
            str(args.port),
            # No access log: it would print the tokens of invitation,
            # reset and unsubscribe links (Django's own logs redact them).
            "--verbosity",
            "0",
            "chatsite.asgi:application",
        ],
    ]
    worker = ROOT / "conversations" / "management" / "commands" / "notify_worker.py"
    if worker.exists():
        commands.append([python, "manage.py", "notify_worker"])
    children = [
        subprocess.Popen(cmd, cwd=ROOT, env=os.environ.copy()) for cmd in commands
    ]
    try:
        while True:
            for child in children:
                code = child.poll()
                if code is not None:
                    print(
                        f"{child.args[2]} exited with {code}; stopping.",
                        file=sys.stderr,
                    )
                    return code or 1
            signal.sigtimedwait([signal.SIGINT, signal.SIGTERM], 1)  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
