from django.contrib import admin

from .models import (
    Appointment,
    BookingPolicy,
    ClinicSession,
    ComplaintCategory,
    CoverRequirement,
    Rating,
    RosterStaff,
    SessionTemplate,
    ShiftType,
    Site,
    SiteCode,
    Slot,
    StaffContract,
    StaffRequest,
)


class SiteCodeInline(admin.TabularInline):
    model = SiteCode
    fields = ("label", "department", "created_at", "revoked_at")
    readonly_fields = ("created_at",)
    extra = 0


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "kind", "department")
    inlines = [SiteCodeInline]

    def save_formset(self, request, form, formset, change):
        from .tokens import new_key

        for code in formset.save(commit=False):
            if not code.key:
                code.key = new_key()
                code.created_by = request.user
            code.save()
        for code in formset.deleted_objects:
            code.delete()


@admin.register(BookingPolicy)
class BookingPolicyAdmin(admin.ModelAdmin):
    list_display = ("department", "auto_confirm", "hold_minutes", "close_minutes_before")


@admin.register(ComplaintCategory)
class ComplaintCategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "name_en", "department", "specialty_keywords")
    list_filter = ("department",)


@admin.register(SessionTemplate)
class SessionTemplateAdmin(admin.ModelAdmin):
    list_display = ("doctor", "department", "weekday", "period", "start_time", "end_time", "mode")
    list_filter = ("department", "weekday", "mode")


class SlotInline(admin.TabularInline):
    model = Slot
    fields = ("number", "starts_at", "minutes", "status", "held_until")
    readonly_fields = ("held_until",)
    extra = 0


@admin.register(ClinicSession)
class ClinicSessionAdmin(admin.ModelAdmin):
    list_display = ("doctor", "department", "date", "period", "mode", "status")
    list_filter = ("department", "date", "status")
    inlines = [SlotInline]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    """Read-only here: statuses change only through the booking services, which audit."""

    list_display = ("patient", "session", "status", "queue_number", "payment_status")
    list_filter = ("status", "payment_status")
    raw_id_fields = ("patient", "session", "slot", "booked_by", "encounter")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ("doctor", "stars", "created_at")
    readonly_fields = ("appointment", "doctor", "stars", "comment", "created_at")


@admin.register(ShiftType)
class ShiftTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_en", "start", "minutes", "night", "clinic_period")
    filter_horizontal = ("cannot_follow",)


@admin.register(StaffContract)
class StaffContractAdmin(admin.ModelAdmin):
    list_display = ("name", "min_total_minutes", "max_total_minutes", "max_weekends")


@admin.register(RosterStaff)
class RosterStaffAdmin(admin.ModelAdmin):
    list_display = ("user", "department", "contract", "active")
    list_filter = ("department", "contract", "active")


@admin.register(CoverRequirement)
class CoverRequirementAdmin(admin.ModelAdmin):
    list_display = ("department", "weekday", "date", "shift_type", "required")
    list_filter = ("department", "shift_type")


@admin.register(StaffRequest)
class StaffRequestAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "date", "end_date", "shift_type", "status")
    list_filter = ("kind", "status")
