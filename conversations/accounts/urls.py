"""/accounts/: Django's sign-in views with our pages, throttling and
invitations. Included before django.contrib.auth.urls, which still serves
logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth
from django.urls import path

from .forms import ResetForm
from .views import PasswordChangeView, invitation, throttled_login

urlpatterns = [
    path("login/", throttled_login(auth.LoginView.as_view()), name="login"),
    path(
        "password_change/",
        PasswordChangeView.as_view(template_name="accounts/password_change_form.html"),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path(
        "password_reset/",
        auth.PasswordResetView.as_view(
            form_class=ResetForm,
            template_name="accounts/password_reset_form.html",
            email_template_name="accounts/password_reset_email.txt",
            subject_template_name="accounts/password_reset_subject.txt",
            # Links go to SITE_URL, not to whatever Host the request named.
            extra_email_context={"site_url": settings.SITE_URL},
        ),
        name="password_reset",
    ),
    path(
        "password_reset/done/",
        auth.PasswordResetDoneView.as_view(
            template_name="accounts/password_reset_done.html"
        ),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("invitation/<str:token>/", invitation, name="invitation"),
]
