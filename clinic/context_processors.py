from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .mfa import mfa_role
from .models import Role

# (label, url name, roles that see it)
_NAV = [
    (_("Home"), "home", None),
    (_("Worklist"), "imaging:worklist", (Role.ADMIN, Role.DOCTOR)),
    (
        _("Patients"),
        "clinic:patient_search",
        (Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST),
    ),
    (_("Register patient"), "clinic:patient_create", (Role.ADMIN, Role.RECEPTIONIST, Role.NURSE)),
    (_("Import patients"), "clinic:patient_import", (Role.ADMIN,)),
    (_("Studies"), "imaging:study_list", (Role.ADMIN, Role.DOCTOR, Role.NURSE)),
    (_("Upload studies"), "imaging:study_upload", (Role.ADMIN, Role.DOCTOR, Role.NURSE)),
    (_("AI models"), "imaging:model_list", (Role.ADMIN, Role.DOCTOR, Role.NURSE)),
    (_("Booking requests"), "appointments:inbox", (Role.DOCTOR,)),
    (_("My queue"), "appointments:queue", (Role.DOCTOR,)),
    (_("Front desk"), "appointments:desk", (Role.ADMIN, Role.RECEPTIONIST)),
    (_("Sites and QR codes"), "appointments:sites", (Role.ADMIN, Role.RECEPTIONIST)),
    (_("My visits"), "booking:me", (Role.PATIENT,)),
    (_("Privacy and my data"), "clinic:my_privacy", (Role.PATIENT,)),
    (_("Rosters"), "rosters:list", (Role.ADMIN, Role.SCHEDULER)),
    (_("My roster"), "rosters:mine", (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)),
    (_("Notifications"), "appointments:notifications", None),
    (_("Audit trail"), "clinic:audit_search", (Role.ADMIN,)),
    (_("Staff directory"), "clinic:staff_directory", (Role.ADMIN, Role.SCHEDULER)),
    (_("API docs"), "api-docs", (Role.ADMIN,)),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    if getattr(request, "mfa_pending", False):
        return {"nav_items": []}  # every link would lead back to the code step
    items = [
        {"label": label, "url": reverse(name), "active": request.path == reverse(name)}
        for label, name, roles in _NAV
        if roles is None or user.role in roles
    ]
    if mfa_role(user):
        url = reverse("mfa:manage")
        items.append({"label": _("Two-step sign-in"), "url": url, "active": request.path == url})
    if user.is_staff:
        items.append({"label": _("Administration"), "url": reverse("admin:index"), "active": False})
    from appointments.models import Notification

    unread = Notification.objects.filter(user=user, read_at__isnull=True).count()
    for item in items:
        if unread and item["url"] == reverse("appointments:notifications"):
            item["label"] = f"{item['label']} ({unread})"
    return {"nav_items": items, "unread_notifications": unread}
