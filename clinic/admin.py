from django.contrib import admin, messages
from django.contrib.admin.exceptions import NotRegistered
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import mfa
from .audit import Actor
from .models import (
    AuditEvent,
    BreakGlassAccess,
    Department,
    EpisodeOfCare,
    Practitioner,
    User,
)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Hospital"), {"fields": ("full_name", "role", "department")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Hospital"), {"fields": ("full_name", "role", "department")}),
    )
    list_display = ("username", "full_name", "role", "department", "is_active", "two_step")
    list_filter = ("role", "department", "is_active")
    search_fields = ("username", "full_name", "email")
    actions = ["two_step_reset"]

    def get_queryset(self, request):
        authenticators = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
        return super().get_queryset(request).annotate(has_two_step=Exists(authenticators))

    @admin.display(boolean=True, description=_("Two-step sign-in"), ordering="has_two_step")
    def two_step(self, obj) -> bool:
        return obj.has_two_step

    @admin.action(description=_("Reset two-step sign-in (lost phone)"))
    def two_step_reset(self, request, queryset):
        """The audited way to take away a user's authenticator and recovery codes: they set up a
        new one at their next sign-in (clinic.mfa.mfa_reset)."""
        actor = Actor.from_request(request)
        users = list(queryset)
        for user in users:
            mfa.mfa_reset(actor=actor, user=user)
        self.message_user(
            request,
            ngettext(
                "Two-step sign-in was reset for %(count)d user; they set it up again at their "
                "next sign-in.",
                "Two-step sign-in was reset for %(count)d users; they set it up again at their "
                "next sign-in.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "parent")
    list_filter = ("parent",)
    search_fields = ("code", "name", "name_en")


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("user", "title", "department", "specialty")
    list_filter = ("title", "department")
    search_fields = ("user__full_name", "user__username", "specialty")
    autocomplete_fields = ("user",)


@admin.register(EpisodeOfCare)
class EpisodeOfCareAdmin(admin.ModelAdmin):
    """Staff open and close a department's episodes; patient data is edited in the app."""

    list_display = ("patient", "department", "status", "opened_at", "closed_at")
    list_filter = ("status", "department")
    raw_id_fields = ("patient",)


@admin.register(BreakGlassAccess)
class BreakGlassAccessAdmin(admin.ModelAdmin):
    list_display = ("granted_at", "user", "patient", "expires_at", "reviewed_by", "reviewed_at")
    list_filter = ("reviewed_at",)
    readonly_fields = ("user", "patient", "reason", "granted_at", "expires_at")
    fields = (*readonly_fields, "reviewed_by", "reviewed_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = (
        "seq",
        "at",
        "username",
        "role",
        "action",
        "object_type",
        "object_id",
        "patient",
        "ip",
        "flagged",
    )
    list_filter = ("action", "role", "flagged")
    search_fields = ("username", "object_id", "patient__mrn", "reason")
    date_hierarchy = "at"
    readonly_fields = ("seq", "prev_hash", "hash")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# django-otp's own admin pages would let an administrator add, edit or delete authenticators
# and recovery codes without an audit row; the reset action above is the one way in.
for _model in (TOTPDevice, StaticDevice):
    try:
        admin.site.unregister(_model)
    except NotRegistered:
        pass
