"""Object-level access sweep (the OpenEMR IDOR class of bugs): every route that takes an object
id is requested by outsiders — a doctor with no relation to the patient and a patient account
that is not theirs — and must answer 403 or 404 with none of the patient's data.

A new route that takes an id fails ``test_every_route_with_an_object_id_is_in_the_sweep`` until
it is added to ROUTES below (or to PUBLIC, with the reason it shows nothing private)."""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from appointments import rosters, services
from appointments.models import Notification, RosterPeriod, ShiftType
from clinic.audit import Actor
from clinic.models import PatientImport
from imaging.models import AIModel, Finding, InferenceJob, Instance, ModelVersion
from imaging.services import IngestSession

from ..appointments.conftest import make_account, make_session, own_record
from ..conftest import api_auth, two_step_passed
from ..imaging.test_pages import ct_bytes

pytestmark = pytest.mark.django_db

# Routes that take an id but show no patient data to anyone, with the reason.
PUBLIC = {
    "booking:entry": "a site's QR code: departments and doctors, no patient data",
    "booking:doctors": "doctors of a department with free slots",
    "booking:doctor": "one doctor's free slots",
    "booking:slot": "a free slot's time and doctor; booking takes the patient from the session",
    "booking:waitlist": "a session's date; joining takes the patient from the session",
    "api-ai-model": "a registered AI model and its versions (staff only), no patient data",
    "api-ai-model-bundle": "a model version's bundle zip (staff only), no patient data",
    "api-ai-model-activate": "activating a model version (administrators only), no patient data",
    "api-ai-model-rollback": "rolling a model back (administrators only), no patient data",
    "imaging:model_card": "a registered AI model's card (staff only), no patient data",
    "imaging:model_version_activate": "activating a model version (administrators only)",
    "imaging:model_rollback": "rolling a model back (administrators only)",
    "imaging:model_version_feedback": "a model version's review figures: aggregate counts only",
    "imaging:model_version_dataset": (
        "a model version's labelled dataset: administrators only, de-identified, audited"
    ),
}


def _routes(patterns=None, prefix="", namespace=None):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            inner = p.namespace or namespace
            yield from _routes(p.url_patterns, prefix + str(p.pattern), inner)
        elif isinstance(p, URLPattern):
            route = prefix + str(p.pattern)
            if ("<" in route or "(?P" in route) and p.name:
                yield f"{namespace}:{p.name}" if namespace else p.name


@pytest.fixture
def world(owner, patient, cardiology, admin_user, scheduler, receptionist):
    """One of everything an id can point at, all belonging to ``patient`` (Dr Alice's)."""
    site_user = make_account("13800005555", name="不相关")
    from appointments.models import Site, SiteCode
    from appointments.tokens import new_key

    site = Site.objects.create(name="门诊", kind=Site.Kind.CLINIC, department=cardiology)
    code = SiteCode.objects.create(site=site, key=new_key())
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)
    session = make_session(owner, site, start=start)
    patient.account = make_account("13800006666", with_record=False)
    patient.save(update_fields=["account"])
    appointment = services.appointment_request(
        actor=Actor(user=patient.account),
        slot_id=session.slots.first().pk,
        patient_id=patient.pk,
        complaint="胸痛",
    )
    with IngestSession(actor=Actor(user=admin_user), source="test") as ingest:
        ingest.ingest(ct_bytes(patient_id=patient.mrn))
    instance = Instance.objects.select_related("series__study").get()
    shift = ShiftType.objects.create(code="D", name="白班", start="08:00", minutes=480)
    period = rosters.roster_create(
        actor=Actor(user=scheduler), department=cardiology, start=start.date(), days=7
    )
    note = Notification.objects.create(
        user=owner, text=f"新的预约申请：{patient.name}", url="/appointments/inbox/"
    )
    job = PatientImport.objects.create(
        created_by=admin_user, filename="p.csv", content=f"name\n{patient.name}\n"
    )
    encounter = patient.encounters.get()
    ai_version = ModelVersion.objects.create(
        model=AIModel.objects.create(name="lesion-finder", title="Lesion finder"),
        version="1.0.0",
        bundle_file="lesion-finder/1.0.0.zip",
        size=0,
        sha256="0" * 64,
        kind="segmentation",
        is_active=True,
    )
    ai_job = InferenceJob.objects.create(
        model_version=ai_version,
        study=instance.series.study,
        series=instance.series,
        log=f"read the series of {patient.mrn}",
    )
    heatmap = Finding.objects.create(
        job=ai_job,
        model_version=ai_version,
        study=instance.series.study,
        series=instance.series,
        label="nodule",
        kind="heatmap",
        overlay_file="heatmaps/x.npz",
    )
    return {
        "ai_job": ai_job,
        "heatmap": heatmap,
        "patient": patient,
        "appointment": appointment,
        "instance": instance,
        "study": instance.series.study,
        "series": instance.series,
        "site": site,
        "code": code,
        "session": session,
        "period": period,
        "note": note,
        "job": job,
        "encounter": encounter,
        "shift": shift,
        "stranger": site_user,
    }


def _uids(w, frames=False, tag=False):
    kwargs = {
        "study_uid": w["study"].study_uid,
        "series_uid": w["series"].series_uid,
        "sop_uid": w["instance"].sop_uid,
    }
    if frames:
        kwargs["frames"] = "1"
    if tag:
        kwargs["tag"] = "7FE00010"
    return kwargs


ROUTES = {
    # name: (kwargs from the world, methods to try)
    "api-patient": (lambda w: {"pk": w["patient"].pk}, ["get", "patch"]),
    "api-patient-encounters": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "api-patient-observations": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "api-patient-conditions": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "api-patient-allergies": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "api-patient-break-glass": (lambda w: {"pk": w["patient"].pk}, ["post"]),
    "api-patient-access-log": (lambda w: {"pk": w["patient"].pk}, ["get"]),
    "api-encounter": (lambda w: {"pk": w["encounter"].pk}, ["get", "patch"]),
    "dicomweb:study": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:study-metadata": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:study-rendered": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:study-thumbnail": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:study-series": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:study-instances": (lambda w: {"study_uid": w["study"].study_uid}, ["get"]),
    "dicomweb:series": (lambda w: {k: v for k, v in _uids(w).items() if k != "sop_uid"}, ["get"]),
    "dicomweb:series-metadata": (
        lambda w: {k: v for k, v in _uids(w).items() if k != "sop_uid"},
        ["get"],
    ),
    "dicomweb:series-rendered": (
        lambda w: {k: v for k, v in _uids(w).items() if k != "sop_uid"},
        ["get"],
    ),
    "dicomweb:series-thumbnail": (
        lambda w: {k: v for k, v in _uids(w).items() if k != "sop_uid"},
        ["get"],
    ),
    "dicomweb:series-instances": (
        lambda w: {k: v for k, v in _uids(w).items() if k != "sop_uid"},
        ["get"],
    ),
    "dicomweb:instance": (_uids, ["get"]),
    "dicomweb:instance-metadata": (_uids, ["get"]),
    "dicomweb:instance-rendered": (_uids, ["get"]),
    "dicomweb:instance-thumbnail": (_uids, ["get"]),
    "dicomweb:frames": (lambda w: _uids(w, frames=True), ["get"]),
    "dicomweb:frames-rendered": (lambda w: _uids(w, frames=True), ["get"]),
    "dicomweb:bulkdata": (lambda w: _uids(w, tag=True), ["get"]),
    "booking:appointment": (lambda w: {"pk": w["appointment"].pk}, ["get"]),
    "booking:appointment_status": (lambda w: {"pk": w["appointment"].pk}, ["get"]),
    "booking:action": (lambda w: {"pk": w["appointment"].pk}, ["post"]),
    "appointments:decide": (lambda w: {"pk": w["appointment"].pk}, ["get", "post"]),
    "appointments:board": (lambda w: {"site_id": w["site"].pk}, ["get"]),
    "appointments:board_data": (lambda w: {"site_id": w["site"].pk}, ["get"]),
    "appointments:poster": (lambda w: {"pk": w["code"].pk}, ["get"]),
    "appointments:qr_image": (lambda w: {"pk": w["code"].pk, "fmt": "png"}, ["get"]),
    "appointments:notification_open": (lambda w: {"pk": w["note"].pk}, ["post"]),
    "rosters:detail": (lambda w: {"pk": w["period"].pk}, ["get"]),
    "rosters:action": (lambda w: {"pk": w["period"].pk}, ["post"]),
    "rosters:cell": (lambda w: {"pk": w["period"].pk}, ["post"]),
    "rosters:move": (lambda w: {"pk": w["period"].pk}, ["post"]),
    "rosters:compare": (lambda w: {"pk": w["period"].pk}, ["get"]),
    "rosters:progress": (lambda w: {"pk": w["period"].pk}, ["get"]),
    "rosters:export_csv": (lambda w: {"pk": w["period"].pk}, ["get"]),
    "rosters:export_ics": (lambda w: {"pk": w["period"].pk}, ["get"]),
    "imaging:study_detail": (lambda w: {"pk": w["study"].pk}, ["get"]),
    "imaging:study_inference_run": (lambda w: {"pk": w["study"].pk}, ["post"]),
    "imaging:study_inference_status": (lambda w: {"pk": w["study"].pk}, ["get"]),
    "imaging:finding_overlay": (
        lambda w: {"pk": w["heatmap"].pk, "sop_uid": w["instance"].sop_uid},
        ["get"],
    ),
    "imaging:study_export": (lambda w: {"pk": w["study"].pk}, ["post"]),
    "imaging:study_viewer": (lambda w: {"pk": w["study"].pk}, ["get"]),
    "imaging:viewer_data": (lambda w: {"pk": w["study"].pk}, ["get"]),
    "imaging:finding_mask": (lambda w: {"pk": w["heatmap"].pk}, ["get"]),
    "imaging:finding_review": (lambda w: {"pk": w["heatmap"].pk}, ["post"]),
    "imaging:finding_add": (lambda w: {"pk": w["study"].pk}, ["post"]),
    "imaging:study_sign": (lambda w: {"pk": w["study"].pk}, ["post"]),
    "imaging:study_report": (lambda w: {"pk": w["study"].pk}, ["get"]),
    "imaging:study_reopen": (lambda w: {"pk": w["study"].pk}, ["post"]),
    "api-ai-study-inference": (lambda w: {"study_uid": w["study"].study_uid}, ["post"]),
    "api-ai-job": (lambda w: {"pk": w["ai_job"].pk}, ["get"]),
    "api-ai-job-log": (lambda w: {"pk": w["ai_job"].pk}, ["get"]),
    "api-ai-job-cancel": (lambda w: {"pk": w["ai_job"].pk}, ["post"]),
    "clinic:patient_import_detail": (lambda w: {"pk": w["job"].pk}, ["get"]),
    "clinic:patient_chart": (lambda w: {"pk": w["patient"].pk}, ["get"]),
    "clinic:patient_edit": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "clinic:encounter_create": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "clinic:encounter_edit": (
        lambda w: {"pk": w["patient"].pk, "encounter_id": w["encounter"].pk},
        ["get", "post"],
    ),
    "clinic:observation_create": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "clinic:condition_create": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "clinic:allergy_create": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
    "clinic:break_glass": (lambda w: {"pk": w["patient"].pk}, ["get"]),
    "clinic:patient_access_log": (lambda w: {"pk": w["patient"].pk}, ["get"]),
    "clinic:patient_consent": (lambda w: {"pk": w["patient"].pk}, ["get", "post"]),
}
# Pages an unrelated *doctor* may open, showing nothing private: the emergency-access form
# (access needs a reason, is audited and flagged) and the waiting-room board (masked names).
# A patient account may open none of them.
DOCTOR_MAY_OPEN = {
    "clinic:break_glass",
    "api-patient-break-glass",
    "appointments:board",
    "appointments:board_data",
}


def test_every_route_with_an_object_id_is_in_the_sweep():
    names = {n for n in _routes() if not n.startswith("admin:")}
    assert sorted(names - set(ROUTES) - set(PUBLIC)) == []
    assert sorted((set(ROUTES) | set(PUBLIC)) - names) == []


def _leaks(response, patient) -> bool:
    body = response.content.decode(errors="replace")
    return patient.name in body or patient.mrn in body or "胸痛" in body


def _leaks_clinical(response, world) -> bool:
    body = response.content.decode(errors="replace")
    return "胸痛" in body or world["encounter"].chief_complaint in body


def _refusals(client, world, name, user, who) -> list[str]:
    """What is wrong with ``name`` for this outsider (empty: refused, nothing shown)."""
    kwargs_for, methods = ROUTES[name]
    if who == "doctor" and name in DOCTOR_MAY_OPEN:
        methods = ["get"] if "get" in methods else []
    url = reverse(name, kwargs=kwargs_for(world))
    api = name.startswith("api-") or name.startswith("dicomweb:")
    extra = api_auth(user) if who == "doctor" and api else {}
    problems = []
    for method in methods:
        response = getattr(client, method)(url, **extra)
        if who == "doctor" and name in DOCTOR_MAY_OPEN:
            # The emergency-access form names whom it opens (the doctor typed their exact
            # identifier) but shows no clinical data; the board shows masked names only.
            leaked = _leaks_clinical(response, world) or (
                name.startswith("appointments:board") and _leaks(response, world["patient"])
            )
        else:
            leaked = _leaks(response, world["patient"])
            if response.status_code not in (401, 403, 404):
                problems.append(f"{method.upper()} {url} -> {response.status_code}")
        if leaked:
            problems.append(f"{method.upper()} {url} shows the patient's data")
    return problems


@pytest.mark.parametrize("who", ["doctor", "patient"])
def test_an_outsider_is_refused_every_object(client, world, outsider, who):
    user = outsider if who == "doctor" else world["stranger"]
    client.force_login(user)
    two_step_passed(client, user)
    problems = [p for name in sorted(ROUTES) for p in _refusals(client, world, name, user, who)]
    assert problems == []


def test_the_sweep_would_notice_a_leak(client, world, owner):
    """The sweep's own check: the doctor in charge does see the data on the same routes."""
    client.force_login(owner)
    two_step_passed(client, owner)
    response = client.get(reverse("clinic:patient_chart", kwargs={"pk": world["patient"].pk}))
    assert response.status_code == 200 and _leaks(response, world["patient"])
    response = client.get(reverse("appointments:decide", kwargs={"pk": world["appointment"].pk}))
    assert response.status_code == 200 and _leaks(response, world["patient"])
    assert RosterPeriod.objects.exists() and own_record  # fixtures used above
