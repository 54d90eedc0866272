"""Operators' admin: communities, memberships, residents. Never message bodies."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from .accounts.actor import staff_actor
from .models import Community, Membership, User
from .services.access import (
    membership_add,
    membership_reactivate,
    membership_remove,
    membership_suspend,
    resident_revoke_access,
)
from .services.erasure import resident_erase
from .services.invitations import InviteResult, resident_invite

ERASE_CONFIRMATION = "admin/conversations/user/erase_confirmation.html"


@admin.register(User)
class ResidentAdmin(UserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Resident", {"fields": ("display_name",)}),
    )

    # Changes of email, password or active flag are caught when the user is
    # saved (signals.py): history, notice to the old address, sockets closed.
    actions = ("invite", "erase")

    @admin.action(description="Email an invitation to choose a password")
    def invite(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        results = Counter(
            resident_invite(user=user, community=None) for user in queryset
        )
        summary = ", ".join(f"{n} {result.value}" for result, n in results.items())
        failed = results[InviteResult.FAILED]
        self.message_user(
            request,
            f"Invitations: {summary}.",
            messages.WARNING if failed else messages.SUCCESS,
        )

    @admin.action(
        description="Erase for good (an erasure request)", permissions=["delete"]
    )
    def erase(
        self, request: HttpRequest, queryset: QuerySet[User]
    ) -> TemplateResponse | None:
        """A confirmation page first; then services/erasure.py for each."""
        staff_id = cast(User, request.user).pk
        users = list(queryset.exclude(pk=staff_id).order_by("username"))
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase these accounts for good?",
                "opts": self.model._meta,
                "residents": users,
                "kept_out": queryset.filter(pk=staff_id).exists(),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, ERASE_CONFIRMATION, context)
        erased = [
            resident_erase(user_id=user.pk, actor=staff_actor(request))
            for user in users
        ]
        # The admin's history says who erased which account, by its new name.
        for user in User.objects.filter(pk__in=[e.user_id for e in erased]):
            self.log_change(request, user, "Erased the account.")
        self.message_user(
            request,
            f"Erased {len(erased)} accounts: "
            + ", ".join(erasure.username for erasure in erased),
            messages.SUCCESS,
        )
        return None

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            resident_revoke_access(user_id=obj.pk)
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        with transaction.atomic():
            for user_id in queryset.values_list("pk", flat=True):
                resident_revoke_access(user_id=user_id)
            super().delete_queryset(request, queryset)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    readonly_fields = ("status", "created_at")
    can_delete = False

    def has_change_permission(
        self, request: HttpRequest, obj: Community | None = None
    ) -> bool:
        # Existing rows are read-only: handing a membership to another resident
        # would end access without closing sockets. New rows can still be added.
        return False


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "force_hide_text", "retention_days", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline,)

    def save_formset(
        self, request: HttpRequest, form: Any, formset: Any, change: bool
    ) -> None:
        """New membership rows go through the service: it writes the
        resident's history (existing rows are read-only)."""
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        for membership in formset.save(commit=False):
            if membership.pk is None:
                membership_add(
                    community=form.instance,
                    user=membership.user,
                    actor=staff_actor(request),
                )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "community", "status", "created_at")
    list_filter = ("status", "community")
    search_fields = ("user__username", "user__display_name", "community__slug")
    autocomplete_fields = ("user", "community")
    readonly_fields = ("status",)
    actions = ("suspend", "reactivate")

    def get_readonly_fields(
        self, request: HttpRequest, obj: Membership | None = None
    ) -> tuple[str, ...]:
        # Moving a membership to another resident or community would end access
        # there without closing sockets: suspend or delete it, then add another.
        if obj is None:
            return ("status",)
        return ("user", "community", "status")

    def save_model(
        self, request: HttpRequest, obj: Membership, form: Any, change: bool
    ) -> None:
        """An added membership goes through the service (the resident's
        history); an existing one has nothing editable."""
        if change:
            super().save_model(request, obj, form, change)
            return
        membership, _ = membership_add(
            community=obj.community, user=obj.user, actor=staff_actor(request)
        )
        obj.pk = membership.pk

    @admin.action(description="Suspend (closes their open sockets)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("community"):
            membership_suspend(membership=membership, actor=staff_actor(request))

    @admin.action(description="Reactivate")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset.select_related("community"):
            membership_reactivate(membership=membership, actor=staff_actor(request))

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj, actor=staff_actor(request))

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> None:
        for membership in queryset.select_related("community"):
            membership_remove(membership=membership, actor=staff_actor(request))
