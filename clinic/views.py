"""HTML pages for staff and patients. Access rules live in clinic.access, writes in services."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from . import access, selectors, services
from .audit import Actor, audit_record
from .audit_export import audit_csv_lines
from .consent_views import consent_context
from .forms import (
    AllergyForm,
    AuditSearchForm,
    BreakGlassForm,
    ConditionForm,
    EncounterForm,
    ObservationForm,
    PatientForm,
    PatientImportForm,
)
from .models import (
    AuditAction,
    Department,
    Encounter,
    EpisodeOfCare,
    Patient,
    PatientImport,
    Practitioner,
    Role,
    User,
)


def _require_role(request, *roles):
    if request.user.role not in roles:
        raise PermissionDenied


def _form_errors_from(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form, per field where the form has the field."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
def home(request):
    user = request.user
    context = {"role": user.role}
    if user.role == Role.DOCTOR:
        from appointments.selectors import inbox_for, sessions_today_for

        context["pending_requests"] = inbox_for(user).count()
        context["sessions_today"] = sessions_today_for(user).count()
        context["recent_encounters"] = Encounter.objects.filter(practitioner=user).select_related(
            "patient", "department"
        )[:10]
        context["department_episodes"] = (
            EpisodeOfCare.objects.filter(
                department=user.department, status=EpisodeOfCare.Status.OPEN
            ).select_related("patient")[:20]
            if user.department_id
            else []
        )
        from imaging.review.worklist import worklist_rows, worklist_studies

        context["worklist"] = worklist_rows(worklist_studies(user=user)[:20])
    elif user.role == Role.NURSE:
        context["department_episodes"] = (
            EpisodeOfCare.objects.filter(
                department=user.department, status=EpisodeOfCare.Status.OPEN
            ).select_related("patient")[:30]
            if user.department_id
            else []
        )
    elif user.role == Role.PATIENT:
        context["my_patients"] = access.patients_visible_to(user)
    elif user.role == Role.ADMIN:
        context["flagged_events"] = selectors.audit_search(flagged=True)[:10]
        context["counts"] = {
            "users": User.objects.count(),
            "departments": Department.objects.count(),
            "practitioners": Practitioner.objects.count(),
        }
    elif user.role == Role.SCHEDULER:
        context["departments"] = Department.objects.filter(parent=None).prefetch_related(
            "children__practitioners__user"
        )
    return render(request, "clinic/home.html", context)


@login_required
def patient_search(request):
    _require_role(request, Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)
    query = request.GET.get("q", "").strip()
    patients = selectors.patient_search(user=request.user, query=query)
    page = Paginator(patients, 25).get_page(request.GET.get("page"))
    emergency_candidate = None
    if query:
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.SEARCH,
            details={"query": query, "results": page.paginator.count},
        )
        if access.can_break_glass(user=request.user) and page.paginator.count == 0:
            emergency_candidate = selectors.patient_by_exact_identifier(query=query)
    return render(
        request,
        "clinic/patient_search.html",
        {
            "query": query,
            "page": page,
            "emergency_candidate": emergency_candidate,
            "can_open_chart": request.user.role != Role.RECEPTIONIST,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def patient_create(request):
    if not access.can_register_patients(user=request.user):
        raise PermissionDenied
    form = PatientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(
                actor=Actor.from_request(request), **form.cleaned_data
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, _("Patient %(mrn)s registered.") % {"mrn": patient.mrn})
            if access.can_view_patient(user=request.user, patient=patient):
                return redirect("clinic:patient_chart", pk=patient.pk)
            return redirect("clinic:patient_search")
    return render(request, "clinic/patient_form.html", {"form": form, "patient": None})


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request, pk):
    if request.user.role == Role.RECEPTIONIST:
        patient = get_object_or_404(access.patients_findable_by(request.user), pk=pk)
    else:
        patient = access.patient_get_for_user(user=request.user, patient_id=pk)
    if not access.can_edit_demographics(user=request.user, patient=patient):
        raise PermissionDenied
    actor = Actor.from_request(request)
    # The form validates a copy: the service compares against the stored object.
    form = PatientForm(request.POST or None, instance=Patient.objects.get(pk=patient.pk))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.patient_update(actor=actor, patient=patient, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors_from(form, exc)
            else:
                messages.success(request, _("Saved."))
                if request.user.role == Role.RECEPTIONIST:
                    return redirect("clinic:patient_search")
                return redirect("clinic:patient_chart", pk=patient.pk)
    else:
        services.patient_read_audit(actor=actor, patient=patient)
    return render(request, "clinic/patient_form.html", {"form": form, "patient": patient})


@login_required
def patient_chart(request, pk):
    patient = access.patient_get_for_user(user=request.user, patient_id=pk)
    actor = Actor.from_request(request)
    with transaction.atomic():
        services.patient_read_audit(actor=actor, patient=patient)
    user = request.user
    return render(
        request,
        "clinic/patient_chart.html",
        {
            "patient": patient,
            **selectors.patient_chart(patient=patient),
            "break_glass": access.break_glass_active(user=user, patient=patient),
            "can_write": access.can_write_clinical(user=user, patient=patient),
            "can_record": access.can_record_observations(user=user, patient=patient),
            "can_edit": access.can_edit_demographics(user=user, patient=patient),
            "can_read_log": access.can_read_access_log(user=user, patient=patient),
            **consent_context(patient=patient, user=user),
        },
    )


def _clinical_form_view(
    request, pk, *, form_class, can, create, title, instance=None, initial=None
):
    """The shared shape of the pages that add something to a chart."""
    patient = access.patient_get_for_user(user=request.user, patient_id=pk)
    if not can(user=request.user, patient=patient):
        raise PermissionDenied
    if issubclass(form_class, forms.ModelForm):
        # The form validates a copy: the service compares against the stored object.
        copy = type(instance).objects.get(pk=instance.pk) if instance is not None else None
        form = form_class(request.POST or None, instance=copy, initial=initial)
    else:
        form = form_class(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            create(actor=Actor.from_request(request), patient=patient, data=form.cleaned_data)
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("clinic:patient_chart", pk=patient.pk)
    return render(
        request,
        "clinic/chart_form.html",
        {
            "form": form,
            "patient": patient,
            "title": title,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def encounter_create(request, pk):
    return _clinical_form_view(
        request,
        pk,
        form_class=EncounterForm,
        can=access.can_write_clinical,
        title=_("New encounter"),
        initial={"department": request.user.department_id},
        create=lambda actor, patient, data: services.encounter_create(
            actor=actor, patient=patient, **data
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def encounter_edit(request, pk, encounter_id):
    patient = access.patient_get_for_user(user=request.user, patient_id=pk)
    encounter = get_object_or_404(Encounter, pk=encounter_id, patient=patient)
    return _clinical_form_view(
        request,
        pk,
        form_class=EncounterForm,
        can=access.can_write_clinical,
        instance=encounter,
        title=_("Edit encounter"),
        create=lambda actor, patient, data: services.encounter_update(
            actor=actor, encounter=encounter, **data
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def observation_create(request, pk):
    return _clinical_form_view(
        request,
        pk,
        form_class=ObservationForm,
        can=access.can_record_observations,
        title=_("Record vitals or a lab value"),
        create=lambda actor, patient, data: services.observation_create(
            actor=actor,
            patient=patient,
            code=data["code"],
            value=data["value"],
            effective_at=data.get("effective_at"),
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def condition_create(request, pk):
    return _clinical_form_view(
        request,
        pk,
        form_class=ConditionForm,
        can=access.can_write_clinical,
        title=_("Add a diagnosis"),
        create=lambda actor, patient, data: services.condition_create(
            actor=actor, patient=patient, **data
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def allergy_create(request, pk):
    return _clinical_form_view(
        request,
        pk,
        form_class=AllergyForm,
        can=access.can_record_observations,
        title=_("Add an allergy"),
        create=lambda actor, patient, data: services.allergy_create(
            actor=actor, patient=patient, **data
        ),
    )


@login_required
@require_http_methods(["GET", "POST"])
def break_glass(request, pk):
    if not access.can_break_glass(user=request.user):
        raise Http404
    patient = selectors.patient_for_break_glass(patient_id=pk)
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.break_glass_open(
                actor=Actor.from_request(request),
                patient=patient,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.warning(
                request,
                _("Emergency access granted. This access is recorded and will be reviewed."),
            )
            return redirect("clinic:patient_chart", pk=patient.pk)
    return render(request, "clinic/break_glass.html", {"form": form, "patient": patient})


@login_required
def patient_access_log(request, pk):
    patient = access.patient_get_for_user(user=request.user, patient_id=pk)
    if not access.can_read_access_log(user=request.user, patient=patient):
        raise PermissionDenied
    services.patient_read_audit(
        actor=Actor.from_request(request), patient=patient, action=AuditAction.EXPORT
    )
    page = Paginator(selectors.patient_access_log(patient=patient), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "clinic/access_log.html", {"patient": patient, "page": page})


def _audit_search_events(form: AuditSearchForm):
    if not form.is_valid():
        return selectors.audit_search()
    data = form.cleaned_data
    return selectors.audit_search(
        user_query=data["user"],
        patient_query=data["patient"],
        action=data["action"],
        date_from=data["date_from"],
        date_to=data["date_to"],
        flagged=True if data["flagged"] else None,
    )


@login_required
def audit_search(request):
    _require_role(request, Role.ADMIN)
    form = AuditSearchForm(request.GET or None)
    page = Paginator(_audit_search_events(form), 50).get_page(request.GET.get("page"))
    return render(request, "clinic/audit_search.html", {"form": form, "page": page})


@login_required
def audit_export(request):
    """The audit search's results as CSV for an inspector, in chain order with the hashes."""
    _require_role(request, Role.ADMIN)
    form = AuditSearchForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        page = Paginator(selectors.audit_search().none(), 50).get_page(1)
        return render(request, "clinic/audit_search.html", {"form": form, "page": page}, status=400)
    data = form.cleaned_data if form.is_bound else {}
    audit_record(
        actor=Actor.from_request(request),
        action=AuditAction.EXPORT,
        details={
            "export": "audit_trail",
            "filters": {name: str(value) for name, value in data.items() if value},
        },
    )
    events = _audit_search_events(form).order_by("seq").iterator(chunk_size=2000)
    response = StreamingHttpResponse(
        audit_csv_lines(events), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{stamp}.csv"'
    return response


@login_required
def staff_directory(request):
    _require_role(request, Role.ADMIN, Role.SCHEDULER)
    departments = Department.objects.filter(parent=None).prefetch_related(
        "children__practitioners__user", "practitioners__user"
    )
    return render(request, "clinic/staff_directory.html", {"departments": departments})


@login_required
@require_http_methods(["GET", "POST"])
def patient_import(request):
    _require_role(request, Role.ADMIN)
    from .imports import patient_import_submit

    form = PatientImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            content = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.add_error("file", _("The file is not UTF-8 text; save it as CSV UTF-8."))
        else:
            job = patient_import_submit(
                actor=Actor.from_request(request),
                filename=upload.name,
                content=content,
                dry_run=form.cleaned_data["dry_run"],
            )
            return redirect("clinic:patient_import_detail", pk=job.pk)
    jobs = PatientImport.objects.select_related("created_by")[:20]
    return render(request, "clinic/patient_import.html", {"form": form, "jobs": jobs})


@login_required
def patient_import_detail(request, pk):
    _require_role(request, Role.ADMIN)
    job = get_object_or_404(PatientImport, pk=pk)
    return render(request, "clinic/patient_import_detail.html", {"job": job})
