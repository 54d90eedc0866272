"""The password reset form: at most 3 emails per address and hour, in the
resident's language, for residents who never chose a password too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib.auth.forms import PasswordResetForm

from ..models import User
from ..services.throttle import RESET_PER_EMAIL, throttle_take
from .mail import language_of


class ResetForm(PasswordResetForm):
    def get_users(self, email: str) -> Iterator[Any]:
        """Active accounts with this address, including those without a
        usable password (never set: the reset is how they choose one);
        Django's form leaves those out, for sites with external sign-in."""
        candidates = User.objects.filter(
            email__iexact=email, is_active=True, erased_at__isnull=True
        )
        return (u for u in candidates if u.email.casefold() == email.casefold())

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Send, unless this address had its 3 emails this hour. Counted
        whether or not an account uses it: the page answers the same."""
        address = self.cleaned_data["email"].strip().casefold()
        if throttle_take(limit=RESET_PER_EMAIL, key=address):
            super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        """The view names "<name>.txt"; the resident's language picks
        "<name>_fr.txt" or "<name>_en.txt"."""
        language = language_of(context["user"])
        super().send_mail(
            subject_template_name.replace(".txt", f"_{language}.txt"),
            email_template_name.replace(".txt", f"_{language}.txt"),
            context,
            from_email,
            to_email,
            html_email_template_name,
        )
