"""The patient's pages, reached from a QR code: pick a department, a doctor and a slot, sign in
with the phone, choose who the visit is for, follow the request, check in, queue, rate.

The patient is always taken from the signed-in account's own people; ids in the request only
select among them."""

import uuid
from datetime import date
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction, Department, Practitioner, Relationship, Role, Sex

from .. import identity, queue, selectors, services
from ..errors import BookingError
from ..models import AppointmentStatus, ClinicSession, ComplaintCategory, SiteCode, Slot
from ..tokens import key_from

S = AppointmentStatus
SESSION_CODE = "booking_code"


def _code_from_token(token: str) -> SiteCode:
    """The active code behind a token; a forged, altered or revoked token is a 404 page that
    says so, and never reveals anything about the site."""
    key = key_from(token)
    code = (
        SiteCode.objects.select_related("site", "department", "site__department")
        .filter(key=key)
        .first()
        if key
        else None
    )
    if code is None or not code.is_active:
        raise Http404(_("This QR code is not valid. Please scan the code displayed at the clinic."))
    return code


def patient_required(view):
    """Signed in with a phone (a patient account); others go to the phone sign-in."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('booking:login')}?next={request.get_full_path()}")
        if user.role != Role.PATIENT:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def entry(request, token):
    """What a scanned code opens: check-in when the patient has a visit here today, otherwise
    the departments to book in."""
    code = _code_from_token(token)
    request.session[SESSION_CODE] = code.pk
    todays = []
    if request.user.is_authenticated and request.user.role == Role.PATIENT:
        todays = selectors.todays_appointments_at_site(request.user, code.site)
    departments = selectors.departments_for_code(code)
    if len(departments) == 1 and not todays:
        return redirect("booking:doctors", token=token, department_id=departments[0].pk)
    return render(
        request,
        "appointments/booking/entry.html",
        {"code": code, "token": token, "departments": departments, "todays": todays},
    )


def doctors(request, token, department_id):
    code = _code_from_token(token)
    allowed = {d.pk for d in selectors.departments_for_code(code)}
    if department_id not in allowed:
        raise Http404
    department = get_object_or_404(Department, pk=department_id)
    categories = ComplaintCategory.objects.filter(department=department)
    category = categories.filter(pk=_int(request.GET.get("category"))).first()
    choices = selectors.recommended_doctors(
        department=department, user=request.user, category=category
    )
    return render(
        request,
        "appointments/booking/doctors.html",
        {
            "code": code,
            "token": token,
            "department": department,
            "categories": categories,
            "category": category,
            "choices": choices,
        },
    )


def doctor(request, token, doctor_id):
    code = _code_from_token(token)
    practitioner = get_object_or_404(Practitioner.objects.select_related("user"), pk=doctor_id)
    if practitioner.department_id not in {d.pk for d in selectors.departments_for_code(code)}:
        raise Http404
    slots = selectors.free_slots(doctor=practitioner)
    days: dict = {}
    for slot in slots:
        key = (timezone.localtime(slot.starts_at).date(), slot.session)
        days.setdefault(key, []).append(slot)
    return render(
        request,
        "appointments/booking/doctor.html",
        {
            "token": token,
            "doctor": practitioner,
            "sessions": [(day, session, items) for (day, session), items in days.items()],
            "full_sessions": selectors.full_sessions(doctor=practitioner),
            "category": _int(request.GET.get("category")),
        },
    )


def _next_url(request) -> str:
    """Where to go after a step: the ``next`` parameter when it stays on this site."""
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("booking:me")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return reverse("booking:me")
    return next_url


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@patient_required
@require_http_methods(["GET", "POST"])
def slot(request, slot_id):
    """Confirm a booking: who it is for and why; one tap books (idempotently)."""
    chosen = get_object_or_404(
        Slot.objects.select_related(
            "session__doctor__user", "session__department", "session__site"
        ),
        pk=slot_id,
    )
    people = identity.people_for(request.user)
    categories = ComplaintCategory.objects.filter(department=chosen.session.department)
    error = None
    if request.method == "POST":
        try:
            appointment = services.appointment_request(
                actor=Actor.from_request(request),
                slot_id=chosen.pk,
                patient_id=request.POST.get("person"),
                complaint=request.POST.get("complaint", ""),
                category=categories.filter(pk=_int(request.POST.get("category"))).first(),
                idempotency_key=request.POST.get("idempotency_key", ""),
            )
        except BookingError as exc:
            error = exc.message
        else:
            return redirect("booking:appointment", pk=appointment.pk)
    return render(
        request,
        "appointments/booking/slot.html",
        {
            "slot": chosen,
            "people": people,
            "categories": categories,
            "category": _int(request.GET.get("category") or request.POST.get("category")),
            "error": error,
            "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
        },
        status=409 if error else 200,
    )


@patient_required
@require_http_methods(["GET", "POST"])
def waitlist(request, session_id):
    """Join the waiting list of a fully booked session."""
    session = get_object_or_404(
        ClinicSession.objects.select_related("doctor__user", "department", "site"), pk=session_id
    )
    error = None
    if request.method == "POST":
        try:
            appointment = services.appointment_waitlist_join(
                actor=Actor.from_request(request),
                session_id=session.pk,
                patient_id=request.POST.get("person"),
                complaint=request.POST.get("complaint", ""),
            )
        except BookingError as exc:
            error = exc.message
        else:
            return redirect("booking:appointment", pk=appointment.pk)
    return render(
        request,
        "appointments/booking/waitlist.html",
        {"session": session, "people": identity.people_for(request.user), "error": error},
        status=409 if error else 200,
    )


@require_http_methods(["GET", "POST"])
def phone_login(request):
    """Phone and one-time code. Step 1 sends the code, step 2 checks it."""
    next_url = _next_url(request)
    phone = request.POST.get("phone", "")
    step = "phone"
    error = None
    if request.method == "POST":
        actor = Actor.anonymous(request)
        try:
            if request.POST.get("action") == "verify":
                step = "code"
                user = identity.phone_code_verify(
                    phone=phone, code=request.POST.get("code", ""), actor=actor
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(next_url)
            phone = identity.phone_code_send(phone=phone, ip=actor.ip)
            step = "code"
        except BookingError as exc:
            error = exc.message
    return render(
        request,
        "appointments/booking/login.html",
        {"phone": phone, "step": step, "error": error, "next": next_url},
        status=400 if error else 200,
    )


@patient_required
def me(request):
    appointments = selectors.appointments_for_account(request.user)[:50]
    return render(
        request,
        "appointments/booking/me.html",
        {"appointments": appointments, "people": identity.people_for(request.user)},
    )


@patient_required
@require_http_methods(["GET", "POST"])
def person_add(request):
    next_url = _next_url(request)
    error = None
    has_self = any(p.account_id == request.user.pk for p in identity.people_for(request.user))
    if request.method == "POST":
        birth_date = request.POST.get("birth_date") or None
        try:
            birth = date.fromisoformat(birth_date) if birth_date else None
        except ValueError:
            error, birth = _("Enter the birth date as YYYY-MM-DD."), None
        if error is None:
            try:
                identity.booking_person_add(
                    actor=Actor.from_request(request),
                    name=request.POST.get("name", ""),
                    id_number=request.POST.get("id_number", ""),
                    birth_date=birth,
                    sex=request.POST.get("sex", ""),
                    relationship=request.POST.get("relationship", "self"),
                )
            except BookingError as exc:
                error = exc.message
            else:
                return redirect(next_url)
    return render(
        request,
        "appointments/booking/person_form.html",
        {
            "error": error,
            "next": next_url,
            "has_self": has_self,
            "relationships": Relationship.choices,
            "sexes": [c for c in Sex.choices if c[0] != Sex.UNKNOWN],
            "values": request.POST,
        },
        status=400 if error else 200,
    )


def _own_appointment(request, pk):
    appointment = selectors.appointments_for_account(request.user).filter(pk=pk).first()
    if appointment is None:
        raise Http404
    return appointment


def _status_payload(appointment) -> dict:
    payload = {
        "status": appointment.status,
        "status_display": str(appointment.get_status_display()),
        "queue_number": appointment.queue_number,
        "position": None,
        "wait_minutes": None,
        "cancel_reason": appointment.cancel_reason,
        "starts_at": timezone.localtime(appointment.starts_at).strftime("%Y-%m-%d %H:%M"),
    }
    if appointment.status == S.ARRIVED:
        for entry in queue.queue_for_session(appointment.session):
            if entry.appointment.pk == appointment.pk:
                payload["position"] = entry.position
                payload["wait_minutes"] = entry.predicted_wait_minutes
    return payload


@patient_required
def appointment(request, pk):
    item = _own_appointment(request, pk)
    audit_record(
        actor=Actor.from_request(request),
        action=AuditAction.VIEW,
        obj=item,
        patient=item.patient,
    )
    return render(
        request,
        "appointments/booking/appointment.html",
        {
            "appointment": item,
            "status": _status_payload(item),
            "code_id": request.session.get(SESSION_CODE),
            "can_rate": item.status == S.FULFILLED and not hasattr(item, "rating"),
        },
    )


@patient_required
def appointment_status(request, pk):
    """Polled by the status page so it follows the doctor's decision and the queue; audited
    once per sign-in session, not per poll."""
    item = _own_appointment(request, pk)
    if cache.add(f"audit:appointment-status:{request.session.session_key}:{item.pk}", 1, 12 * 3600):
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.VIEW,
            obj=item,
            patient=item.patient,
            details={"via": "status"},
        )
    return JsonResponse(_status_payload(item))


@patient_required
@require_POST
def appointment_action(request, pk):
    item = _own_appointment(request, pk)
    actor = Actor.from_request(request)
    action = request.POST.get("action")
    try:
        if action == "cancel":
            services.appointment_cancel(actor=actor, appointment_id=item.pk)
        elif action == "accept":
            services.appointment_accept_proposal(actor=actor, appointment_id=item.pk)
        elif action == "check_in":
            code = (
                SiteCode.objects.filter(
                    pk=request.session.get(SESSION_CODE), revoked_at__isnull=True
                )
                .select_related("site")
                .first()
            )
            if code is None:
                raise BookingError(
                    "scan_required", _("Scan the QR code at the clinic to check in.")
                )
            queue.appointment_check_in(actor=actor, appointment_id=item.pk, site=code.site)
        elif action == "rate":
            services.appointment_rate(
                actor=actor,
                appointment_id=item.pk,
                stars=request.POST.get("stars"),
                comment=request.POST.get("comment", ""),
            )
        else:
            raise BookingError("unknown_action", _("Unknown action."))
    except BookingError as exc:
        messages.error(request, exc.message)
    return redirect("booking:appointment", pk=item.pk)
