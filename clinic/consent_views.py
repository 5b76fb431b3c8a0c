"""Consent and data-subject rights pages (clinic.consent, clinic.patient_export).

Staff record what a patient decided: from the chart's consent card, or on the patient's consent
page, which also serves the front desk (receptionists open no charts). A patient sees and changes
their own consents and downloads their data under /me/privacy/; the patient there is always the
signed-in account's own record, and no id in the request ever selects it.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from . import access, services
from .audit import Actor
from .consent import ai_allowed, consent_current, consent_history, consent_record
from .forms import ConsentForm, MyConsentForm
from .models import ConsentMethod, ConsentPurpose, Patient, Role
from .patient_export import patient_data_export

HISTORY_SHOWN = 50


def _consent_rows(patient: Patient) -> list[dict]:
    current = consent_current(patient)
    return [
        {"purpose": value, "label": label, "consent": current[value]}
        for value, label in ConsentPurpose.choices
    ]


def _staff_may_record(user, patient: Patient) -> bool:
    return user.role != Role.PATIENT and access.can_record_consent(user=user, patient=patient)


def consent_context(*, patient: Patient, user, form: ConsentForm | None = None) -> dict:
    """What a consent card shows: each purpose's decision in force, the history, whether AI may
    run, and for staff who may record one, the form."""
    may_record = _staff_may_record(user, patient)
    return {
        "consent_rows": _consent_rows(patient),
        "consent_history": consent_history(patient)[:HISTORY_SHOWN],
        "ai_allowed": ai_allowed(patient),
        "consent_form": (form or ConsentForm()) if may_record else None,
        "is_own_record": user.role == Role.PATIENT and patient.account_id == user.pk,
    }


@login_required
@require_http_methods(["GET", "POST"])
def patient_consent(request, pk):
    """A patient's consents; POST records a decision made in person."""
    user = request.user
    if user.role == Role.RECEPTIONIST:
        patient = get_object_or_404(access.patients_findable_by(user), pk=pk)
    else:
        patient = access.patient_get_for_user(user=user, patient_id=pk)
    if not _staff_may_record(user, patient):
        raise PermissionDenied
    actor = Actor.from_request(request)
    form = ConsentForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                consent_record(
                    patient=patient,
                    purpose=data["purpose"],
                    decision=data["decision"],
                    method=data["method"],
                    note=data["note"],
                    actor=actor,
                )
            except ValidationError as exc:
                errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
                for field, messages_ in errors.items():
                    form.add_error(field if field in form.fields else None, messages_)
            else:
                messages.success(request, _("Consent recorded."))
                if access.can_view_patient(user=user, patient=patient):
                    chart = reverse("clinic:patient_chart", args=[patient.pk])
                    return redirect(f"{chart}#consent")
                return redirect("clinic:patient_consent", pk=patient.pk)
    else:
        with transaction.atomic():
            services.patient_read_audit(actor=actor, patient=patient)
    return render(
        request,
        "clinic/patient_consent.html",
        {
            "patient": patient,
            "can_open_chart": access.can_view_patient(user=user, patient=patient),
            **consent_context(patient=patient, user=user, form=form),
        },
    )


def _own_record(request) -> Patient | None:
    """The signed-in patient account's own record, from the session alone."""
    if request.user.role != Role.PATIENT:
        raise PermissionDenied
    return Patient.objects.filter(account=request.user).first()


@login_required
@require_http_methods(["GET", "POST"])
def my_privacy(request):
    """The patient's consents, which they grant, decline or withdraw themselves, and the links
    to their data and to who accessed it."""
    patient = _own_record(request)
    actor = Actor.from_request(request)
    if request.method == "POST":
        if patient is None:
            raise Http404
        # Only purpose and decision are read: any patient id in the request is ignored.
        form = MyConsentForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose a purpose and a decision."))
            return redirect("clinic:my_privacy")
        try:
            consent_record(
                patient=patient,
                purpose=form.cleaned_data["purpose"],
                decision=form.cleaned_data["decision"],
                method=ConsentMethod.PATIENT_ACCOUNT,
                actor=actor,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Your decision is recorded."))
        return redirect("clinic:my_privacy")
    context = {"patient": patient}
    if patient is not None:
        with transaction.atomic():
            services.patient_read_audit(actor=actor, patient=patient)
        context.update(
            consent_rows=_consent_rows(patient),
            consent_history=consent_history(patient)[:HISTORY_SHOWN],
            ai_allowed=ai_allowed(patient),
        )
    return render(request, "clinic/my_privacy.html", context)


@login_required
@require_GET
def my_privacy_export(request):
    """The patient's own data as a JSON download; audited as an export."""
    patient = _own_record(request)
    if patient is None:
        raise Http404
    data = patient_data_export(actor=Actor.from_request(request), patient=patient)
    body = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="my-data-{patient.mrn}-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response
