"""Write docs/asyncapi.json from the wire declarations (conversations/wire/).

Run after changing conversations/wire/schema.py; a test keeps the file equal
to what the code serves at GET /api/asyncapi.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings.test")
    import django

    django.setup()
    from conversations.api import api
    from conversations.wire.asyncapi import asyncapi_document

    text = json.dumps(
        asyncapi_document(api.version), indent=2, ensure_ascii=False, sort_keys=True
    )
    (REPO / "docs" / "asyncapi.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
