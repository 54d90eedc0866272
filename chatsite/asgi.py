"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from chatsite import collector  # noqa: E402
from chatsite.origins import OriginValidator, allowed_origins  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402
from conversations.upload_guard import UploadSizeGuard  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": UploadSizeGuard(django_asgi_app),
        "websocket": OriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
            allowed_origins(settings.SITE_URL, settings.ALLOWED_ORIGINS),
        ),
    }
)

# Everything above lives as long as the process: out of the collector's way
# from now on (chatsite/collector.py).
collector.start(
    freeze_seconds=settings.GC_FREEZE_SECONDS, full_seconds=settings.GC_FULL_SECONDS
)
