from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from conversations.accounts.views import throttled_login
from conversations.api import api
from conversations.notifications.views import unsubscribe
from conversations.views import (
    healthz,
    index,
    manifest,
    metrics,
    privacy,
    service_worker,
)

urlpatterns = [
    path("", index, name="index"),
    path("sw.js", service_worker, name="service-worker"),
    path("manifest.webmanifest", manifest, name="manifest"),
    path("i18n/setlang/", set_language, name="language"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("confidentialite/", privacy, name="privacy"),
    path("accounts/", include("conversations.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/login/", throttled_login(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("unsubscribe/<str:token>/", unsubscribe, name="unsubscribe"),
]
