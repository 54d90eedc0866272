"""Operators' admin: communities, memberships, residents. Never message bodies."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Community, Membership, User
from .services.access import (
    membership_reactivate,
    membership_remove,
    membership_suspend,
    resident_revoke_access,
)


@admin.register(User)
class ResidentAdmin(UserAdmin):
    list_display = ("username", "display_name", "email", "is_active", "is_staff")
    search_fields = ("username", "display_name", "email")
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("Resident", {"fields": ("display_name",)}),
    )

    def save_model(
        self, request: HttpRequest, obj: Any, form: Any, change: bool
    ) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and "is_active" in form.changed_data and not obj.is_active:
                resident_revoke_access(user_id=obj.pk)

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
    list_display = ("name", "slug", "force_hide_text", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline,)


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

    @admin.action(description="Suspend (closes their open sockets)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_suspend(membership=membership)

    @admin.action(description="Reactivate")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Membership]) -> None:
        for membership in queryset:
            membership_reactivate(membership=membership)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        membership_remove(membership=obj)

    def delete_queryset(
        self, request: HttpRequest, queryset: QuerySet[Membership]
    ) -> None:
        for membership in queryset:
            membership_remove(membership=membership)
