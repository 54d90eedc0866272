from django.urls import path, re_path

from .consumers import CommunityConsumer, RefusingConsumer

websocket_urlpatterns = [
    path("ws/communities/<str:slug>/", CommunityConsumer.as_asgi()),
    # Any other path is refused at the handshake (403), not left to crash.
    re_path(r"", RefusingConsumer.as_asgi()),
]
