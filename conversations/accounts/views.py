"""Sign-in pages: throttled logins, password reset and change, invitations.
Thin: each parses the request and calls one service."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth import login
from django.contrib.auth import views as auth
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from ..selectors.access import landing_community_slug
from ..services.access import session_hash
from ..services.invitations import LinkState, invitation_accept, invitation_link_state
from ..services.throttle import login_refused
from .address import client_address

View = Callable[..., HttpResponseBase]

# In the session: hashes of the keys it had before a password change cycled
# it, so that a later logout also closes the sockets opened with them.
EARLIER_SESSION_HASHES = "accounts.earlier_session_hashes"


def throttled_login(view: View) -> View:
    """Refuse a login POST with 429 while the username or the client address
    is over its failed-login budget, before the password is even checked:
    the right password does not help, and unknown usernames answer alike.
    Failures are counted by the `user_login_failed` receiver."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and login_refused(
            username=request.POST.get("username", ""),
            address=client_address(request),
        ):
            context = {
                "form": AuthenticationForm(request),
                "throttled": True,
                "next": request.POST.get("next", ""),
            }
            return render(request, "registration/login.html", context, status=429)
        return view(request, *args, **kwargs)

    return wrapped


class PasswordChangeView(auth.PasswordChangeView):
    """Django's view; the session it keeps open gets a new key (Django
    cycles it), and remembers the old one for the sockets opened with it."""

    def form_valid(self, form: Any) -> HttpResponse:
        before = self.request.session.session_key
        response = super().form_valid(form)
        session = self.request.session
        if before and session.session_key != before:
            earlier = [*session.get(EARLIER_SESSION_HASHES, []), session_hash(before)]
            session[EARLIER_SESSION_HASHES] = earlier[-5:]
        return response


@sensitive_post_parameters("new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation email: choose a password, then sign in and
    land in the community's conversations."""
    state, user = invitation_link_state(token=token)
    if user is None:
        return _invitation_refused(request, state)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        accepted = invitation_accept(
            token=token, password=form.cleaned_data["new_password1"]
        )
        if accepted is None:  # spent in another tab meanwhile
            return _invitation_refused(request, LinkState.UNKNOWN)
        login(request, accepted, backend="django.contrib.auth.backends.ModelBackend")
        slug = landing_community_slug(
            user_id=accepted.pk, wanted=request.GET.get("community", "")
        )
        query = f"?{urlencode({'community': slug})}" if slug else ""
        return HttpResponseRedirect(f"/{query}")
    return render(request, "accounts/invitation.html", {"form": form, "invited": user})


def _invitation_refused(request: HttpRequest, state: LinkState) -> HttpResponse:
    return render(
        request,
        "accounts/invitation_invalid.html",
        {"expired": state == LinkState.EXPIRED},
        status=410,
    )
