"""Staff pages: the doctor's inbox and queue, the front desk (walk-ins, payment), the waiting
room's queue board, sites with their printable QR posters, and notifications."""

import io

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clinic import access
from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Patient, Role

from .. import queue, selectors, services
from ..errors import BookingError
from ..models import Appointment, AppointmentStatus, Notification, Site, SiteCode
from ..tokens import new_key, token_for

S = AppointmentStatus
SITE_MANAGERS = (Role.ADMIN, Role.RECEPTIONIST)
DESK = (Role.ADMIN, Role.RECEPTIONIST)


def _require_role(request, *roles):
    if request.user.role not in roles:
        raise PermissionDenied


def _audit_list(request, page: str, appointments) -> None:
    """One audit row per page listing patients, naming the appointments shown."""
    audit_record(
        actor=Actor.from_request(request),
        action=AuditAction.VIEW,
        details={"page": page, "appointments": [a.pk for a in appointments][:200]},
    )


def _run(request, fn, **kwargs):
    """Call a service; a BookingError becomes a message on the next page."""
    try:
        result = fn(actor=Actor.from_request(request), **kwargs)
    except BookingError as exc:
        messages.error(request, exc.message)
        return None
    return result


@login_required
@require_http_methods(["GET", "POST"])
def inbox(request):
    _require_role(request, Role.DOCTOR)
    if request.method == "POST":
        ids = request.POST.getlist("ids")
        done = sum(
            _run(request, services.appointment_confirm, appointment_id=pk) is not None for pk in ids
        )
        if done:
            messages.success(request, _("%(n)s requests confirmed.") % {"n": done})
        return redirect("appointments:inbox")
    pending = list(selectors.inbox_for(request.user))
    _audit_list(request, "inbox", pending)
    return render(request, "appointments/inbox.html", {"pending": pending})


@login_required
@require_http_methods(["GET", "POST"])
def decide(request, pk):
    _require_role(request, Role.DOCTOR)
    appointment = get_object_or_404(
        Appointment.objects.select_related("patient", "slot", "session__doctor"),
        pk=pk,
        session__doctor__user=request.user,
    )
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            done = _run(request, services.appointment_confirm, appointment_id=pk)
        elif action == "decline":
            done = _run(
                request,
                services.appointment_decline,
                appointment_id=pk,
                reason=request.POST.get("reason", ""),
            )
        elif action == "propose":
            done = _run(
                request,
                services.appointment_propose,
                appointment_id=pk,
                slot_id=request.POST.get("slot"),
            )
        else:
            raise Http404
        if done is not None:
            messages.success(request, _("Saved."))
            return redirect("appointments:inbox")
    audit_record(
        actor=Actor.from_request(request),
        action=AuditAction.VIEW,
        obj=appointment,
        patient=appointment.patient,
    )
    alternatives = selectors.free_slots(doctor=appointment.session.doctor, limit=20)
    return render(
        request,
        "appointments/decide.html",
        {
            "appointment": appointment,
            "alternatives": alternatives,
            "can_open_chart": access.can_view_patient(
                user=request.user, patient=appointment.patient
            ),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def doctor_queue(request):
    """Today's sessions of the signed-in doctor with their queues; call next, finish, absent."""
    _require_role(request, Role.DOCTOR)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "call_next":
            called = _run(request, queue.queue_call_next, session_id=request.POST.get("session"))
            if called is None and not messages.get_messages(request):
                messages.info(request, _("Nobody is waiting."))
        elif action == "finish":
            _run(request, queue.queue_finish, appointment_id=request.POST.get("appointment"))
        elif action == "absent":
            _run(request, queue.queue_mark_absent, appointment_id=request.POST.get("appointment"))
        return redirect("appointments:queue")
    sessions = [
        {
            "session": session,
            "queue": queue.queue_for_session(session),
            "in_room": session.appointments.filter(status=S.CHECKED_IN)
            .select_related("patient", "encounter")
            .first(),
            "booked": session.appointments.filter(status=S.BOOKED).count(),
        }
        for session in selectors.sessions_today_for(request.user)
    ]
    shown = [e.appointment for s in sessions for e in s["queue"]]
    _audit_list(request, "queue", shown + [s["in_room"] for s in sessions if s["in_room"]])
    return render(request, "appointments/queue.html", {"sessions": sessions})


def _mask(name: str) -> str:
    """张伟 → 张*, for screens in public rooms."""
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else ""


def _board_data(site: Site) -> list[dict]:
    rows = []
    for session in (
        selectors.sessions_current().filter(site=site).select_related("doctor__user", "department")
    ):
        waiting = queue.queue_for_session(session)
        in_room = session.appointments.filter(status=S.CHECKED_IN).select_related("patient")
        rows.append(
            {
                "doctor": session.doctor.user.display_name,
                "department": session.department.display_name,
                "period": str(session.get_period_display()),
                "now": [{"number": a.queue_number, "name": _mask(a.patient.name)} for a in in_room],
                "next": [
                    {
                        "number": e.appointment.queue_number,
                        "name": _mask(e.appointment.patient.name),
                        "wait": e.predicted_wait_minutes,
                    }
                    for e in waiting[:5]
                ],
                "waiting": len(waiting),
            }
        )
    return rows


@login_required
def board(request, site_id):
    """The waiting room's screen: who is being seen and who is next (names masked)."""
    _require_role(request, Role.ADMIN, Role.RECEPTIONIST, Role.NURSE, Role.DOCTOR)
    site = get_object_or_404(Site, pk=site_id)
    return render(request, "appointments/board.html", {"site": site, "rows": _board_data(site)})


@login_required
def board_data(request, site_id):
    _require_role(request, Role.ADMIN, Role.RECEPTIONIST, Role.NURSE, Role.DOCTOR)
    site = get_object_or_404(Site, pk=site_id)
    return JsonResponse({"sessions": _board_data(site)})


@login_required
@require_http_methods(["GET", "POST"])
def desk(request):
    """Front desk: today's sessions, walk-ins, payments."""
    _require_role(request, *DESK)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "walk_in":
            patient = Patient.objects.filter(mrn=request.POST.get("mrn", "").strip()).first()
            if patient is None:
                messages.error(request, _("No patient with this medical record number."))
            else:
                done = _run(
                    request,
                    queue.walk_in_register,
                    session_id=request.POST.get("session"),
                    patient_id=patient.pk,
                    complaint=request.POST.get("complaint", ""),
                )
                if done:
                    messages.success(request, _("Queue number %(n)s.") % {"n": done.queue_number})
        elif action == "paid":
            _run(
                request,
                services.appointment_mark_paid,
                appointment_id=request.POST.get("appointment"),
                reference=request.POST.get("reference", ""),
            )
        return redirect("appointments:desk")
    sessions = selectors.sessions_current().select_related("doctor__user", "department", "site")
    unpaid = (
        Appointment.objects.filter(session__in=sessions, payment_status="unpaid")
        .exclude(status__in=[S.CANCELLED, S.PENDING, S.PROPOSED])
        .select_related("patient", "session__doctor__user")
    )
    unpaid = list(unpaid)
    _audit_list(request, "desk", unpaid)
    return render(request, "appointments/desk.html", {"sessions": sessions, "unpaid": unpaid})


@login_required
@require_http_methods(["GET", "POST"])
def sites(request):
    _require_role(request, *SITE_MANAGERS)
    if request.method == "POST":
        site = get_object_or_404(Site, pk=request.POST.get("site"))
        if request.POST.get("action") == "create":
            SiteCode.objects.create(
                site=site,
                key=new_key(),
                created_by=request.user,
                label=request.POST.get("label", "")[:100],
            )
            messages.success(request, _("A new QR code was created."))
        elif request.POST.get("action") == "revoke":
            SiteCode.objects.filter(pk=request.POST.get("code"), site=site).update(
                revoked_at=timezone.now()
            )
            messages.success(request, _("The QR code was revoked."))
        return redirect("appointments:sites")
    all_sites = Site.objects.prefetch_related("codes").select_related("department")
    return render(request, "appointments/sites.html", {"sites": all_sites})


def code_url(request, code: SiteCode) -> str:
    from django.urls import reverse

    return request.build_absolute_uri(reverse("booking:entry", args=[token_for(code.key)]))


@login_required
def poster(request, pk):
    """A printable poster: the QR code with Chinese and English instructions."""
    _require_role(request, *SITE_MANAGERS)
    code = get_object_or_404(SiteCode.objects.select_related("site"), pk=pk)
    url = code_url(request, code)
    svg = segno.make(url, error="m").svg_inline(scale=8, border=2)
    return render(request, "appointments/poster.html", {"code": code, "url": url, "svg": svg})


@login_required
def qr_image(request, pk, fmt):
    _require_role(request, *SITE_MANAGERS)
    code = get_object_or_404(SiteCode, pk=pk)
    qr = segno.make(code_url(request, code), error="m")
    out = io.BytesIO()
    if fmt == "svg":
        qr.save(out, kind="svg", scale=10, border=2)
        content_type = "image/svg+xml"
    else:
        qr.save(out, kind="png", scale=12, border=2)
        content_type = "image/png"
    response = HttpResponse(out.getvalue(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="site-code-{code.pk}.{fmt}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    mine = Notification.objects.filter(user=request.user)
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("appointments:notifications")
    return render(request, "appointments/notifications.html", {"notes": mine[:100]})


@login_required
@require_POST
def notification_open(request, pk):
    note = get_object_or_404(Notification, pk=pk, user=request.user)
    if note.read_at is None:
        note.read_at = timezone.now()
        note.save(update_fields=["read_at"])
    return redirect(note.url or "appointments:notifications")
