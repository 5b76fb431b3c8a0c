"""Roster pages: the scheduler's list, grid (edit, solve with live progress, publish, export)
and staff requests; every member of staff's own roster and requests."""

import csv
from datetime import UTC, date, datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from clinic.audit import Actor
from clinic.models import Department, Role

from .. import rosters
from ..errors import BookingError
from ..models import RosterAssignment, RosterPeriod, RosterStaff, ShiftType, StaffRequest

STAFF_ROLES = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.SCHEDULER, Role.ADMIN)


def _manager(request):
    if not rosters.can_manage_rosters(request.user):
        raise PermissionDenied


def _actor(request) -> Actor:
    return Actor.from_request(request)


def _parse_date(value) -> date | None:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


@login_required
@require_http_methods(["GET", "POST"])
def roster_list(request):
    _manager(request)
    if request.method == "POST":
        department = get_object_or_404(Department, pk=request.POST.get("department"))
        start = _parse_date(request.POST.get("start"))
        try:
            days = int(request.POST.get("days") or 28)
        except ValueError:
            days = 0
        if start is None:
            messages.error(request, _("Enter the first day as YYYY-MM-DD."))
        else:
            try:
                period = rosters.roster_create(
                    actor=_actor(request), department=department, start=start, days=days
                )
            except BookingError as exc:
                messages.error(request, exc.message)
            else:
                return redirect("rosters:detail", pk=period.pk)
        return redirect("rosters:list")
    periods = RosterPeriod.objects.select_related("department")[:100]
    departments = Department.objects.filter(roster_staff__isnull=False).distinct()
    pending = StaffRequest.objects.filter(status=StaffRequest.Status.PENDING).count()
    next_monday = timezone.localdate() + timedelta(days=7 - timezone.localdate().weekday())
    return render(
        request,
        "appointments/rosters/list.html",
        {
            "periods": periods,
            "departments": departments,
            "pending": pending,
            "next_monday": next_monday,
        },
    )


@login_required
def roster_detail(request, pk):
    _manager(request)
    period = get_object_or_404(RosterPeriod.objects.select_related("department", "based_on"), pk=pk)
    grid = rosters.roster_grid(period)
    versions = rosters.roster_versions(period).count()
    return render(
        request,
        "appointments/rosters/detail.html",
        {"grid": grid, "period": period, "versions": versions},
    )


@login_required
@require_POST
def roster_action(request, pk):
    _manager(request)
    period = get_object_or_404(RosterPeriod, pk=pk)
    action = request.POST.get("action")
    actor = _actor(request)
    try:
        if action == "solve":
            rosters.roster_solve_start(actor=actor, period_id=period.pk)
        elif action == "resolve_minimal":
            rosters.roster_solve_start(actor=actor, period_id=period.pk, minimal_change=True)
        elif action == "cancel":
            rosters.roster_solve_cancel(actor=actor, period_id=period.pk)
        elif action == "publish":
            period = rosters.roster_publish(actor=actor, period_id=period.pk)
            messages.success(request, _("The roster is published."))
        elif action == "new_version":
            period = rosters.roster_create(
                actor=actor,
                department=period.department,
                start=period.start,
                days=period.days,
                based_on=period,
            )
        elif action == "sick_call":
            first = _parse_date(request.POST.get("first"))
            last = _parse_date(request.POST.get("last")) or first
            if first is None:
                raise BookingError("dates_invalid", _("Enter the first day as YYYY-MM-DD."))
            period = rosters.roster_sick_call(
                actor=actor,
                period_id=period.pk,
                user_id=request.POST.get("user"),
                first=first,
                last=last,
            )
        else:
            raise BookingError("unknown_action", _("Unknown action."))
    except BookingError as exc:
        messages.error(request, exc.message)
    return redirect("rosters:detail", pk=period.pk)


@login_required
def roster_progress(request, pk):
    _manager(request)
    period = get_object_or_404(RosterPeriod, pk=pk)
    return JsonResponse(
        {
            "status": period.status,
            "progress": period.progress,
            "objective": period.objective,
            "best_bound": period.best_bound,
            "explanation": period.explanation,
        }
    )


def _rows_for_export(request, period):
    """A manager exports a whole roster; anyone else only their own published shifts."""
    cells = period.assignments.select_related("user", "shift_type").order_by("date", "user")
    if not rosters.can_manage_rosters(request.user):
        if period.status != RosterPeriod.Status.PUBLISHED:
            raise PermissionDenied
        cells = cells.filter(user=request.user)
    return cells


@login_required
def roster_export_csv(request, pk):
    period = get_object_or_404(RosterPeriod, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{period.pk}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 Chinese names only with a byte-order mark
    writer = csv.writer(response)
    writer.writerow(["date", "staff", "username", "shift", "start", "minutes"])
    for cell in _rows_for_export(request, period):
        writer.writerow(
            [
                cell.date.isoformat(),
                cell.user.display_name,
                cell.user.username,
                cell.shift_type.code,
                cell.shift_type.start.strftime("%H:%M"),
                cell.shift_type.minutes,
            ]
        )
    return response


def _ics_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def ics_calendar(cells, name: str) -> str:
    """An iCalendar (RFC 5545) calendar with one event per shift, times in UTC."""
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//AI Mass//Rosters//EN",
        f"X-WR-CALNAME:{_ics_escape(name)}",
    ]
    for cell in cells:
        start = timezone.make_aware(datetime.combine(cell.date, cell.shift_type.start))
        end = start + timedelta(minutes=cell.shift_type.minutes)
        lines += [
            "BEGIN:VEVENT",
            f"UID:roster-{cell.period_id}-{cell.pk}@aimass",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            f"SUMMARY:{_ics_escape(cell.shift_type.name)} ({cell.shift_type.code})",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


@login_required
def roster_export_ics(request, pk):
    period = get_object_or_404(RosterPeriod, pk=pk)
    body = ics_calendar(_rows_for_export(request, period), f"{period.department}")
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{period.pk}.ics"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def my_roster(request):
    """A member of staff's published shifts and their requests (days off, leave, wishes)."""
    if request.user.role not in STAFF_ROLES:
        raise PermissionDenied
    if request.method == "POST":
        kind = request.POST.get("kind")
        first = _parse_date(request.POST.get("date"))
        shift = ShiftType.objects.filter(code=request.POST.get("shift")).first()
        end = _parse_date(request.POST.get("end_date"))
        error = None
        if kind not in StaffRequest.Kind.values or first is None:
            error = _("Choose a kind of request and a day.")
        elif kind in (StaffRequest.Kind.SHIFT_ON, StaffRequest.Kind.SHIFT_OFF) and shift is None:
            error = _("Choose the shift this wish is about.")
        elif end is not None and end < first:
            error = _("The last day comes before the first.")
        if error:
            messages.error(request, error)
        else:
            StaffRequest.objects.create(
                user=request.user,
                kind=kind,
                date=first,
                end_date=end,
                shift_type=shift
                if kind in (StaffRequest.Kind.SHIFT_ON, StaffRequest.Kind.SHIFT_OFF)
                else None,
                note=request.POST.get("note", "")[:200],
            )
            messages.success(request, _("Your request was sent to the rostering manager."))
        return redirect("rosters:mine")
    shifts = (
        RosterAssignment.objects.filter(
            user=request.user,
            period__status=RosterPeriod.Status.PUBLISHED,
            date__gte=timezone.localdate() - timedelta(days=7),
        )
        .select_related("shift_type", "period__department")
        .order_by("date")
    )
    return render(
        request,
        "appointments/rosters/mine.html",
        {
            "shifts": shifts,
            "requests": StaffRequest.objects.filter(user=request.user).select_related("shift_type"),
            "kinds": StaffRequest.Kind.choices,
            "shift_types": ShiftType.objects.all(),
            "on_roster": RosterStaff.objects.filter(user=request.user, active=True).exists(),
        },
    )


@login_required
def my_roster_ics(request):
    if request.user.role not in STAFF_ROLES:
        raise PermissionDenied
    cells = RosterAssignment.objects.filter(
        user=request.user, period__status=RosterPeriod.Status.PUBLISHED
    ).select_related("shift_type")
    response = HttpResponse(
        ics_calendar(cells, request.user.display_name), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="my-roster.ics"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def staff_requests(request):
    """The scheduler approves or declines staff requests."""
    _manager(request)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision in (StaffRequest.Status.APPROVED, StaffRequest.Status.DECLINED):
            StaffRequest.objects.filter(
                pk=request.POST.get("request"), status=StaffRequest.Status.PENDING
            ).update(status=decision, decided_by=request.user)
        return redirect("rosters:requests")
    pending = StaffRequest.objects.select_related("user", "shift_type").order_by("status", "date")[
        :200
    ]
    return render(request, "appointments/rosters/requests.html", {"requests": pending})
