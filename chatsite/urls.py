from django.contrib import admin
from django.urls import include, path

from conversations.api import api
from conversations.notifications.views import unsubscribe
from conversations.views import healthz, index

urlpatterns = [
    path("", index, name="index"),
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
