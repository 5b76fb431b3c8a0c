"""The doctor's AI worklist: the studies of my patients (or my department), most urgent first,
with their AI status, findings and review status, filters, and the live update's JSON."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AuditAction, AuditEvent, EpisodeOfCare, Role
from imaging.models import (
    AIModel,
    Finding,
    FindingStatus,
    InferenceJob,
    JobStatus,
    ModelVersion,
    Series,
    Study,
)
from imaging.review.worklist import worklist_studies

from ..factories import EpisodeFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

WORKLIST = reverse("imaging:worklist")
STATUS = reverse("imaging:worklist_status")
TODAY = dt.date(2026, 3, 10)


@pytest.fixture
def version(db):
    """A model version as rows (the real bundle runs in ``read_study``)."""
    model = AIModel.objects.create(name="lesion-finder", title="Lesion finder")
    return ModelVersion.objects.create(
        model=model,
        version="1.0.0",
        bundle_file="lesion-finder/1.0.0.zip",
        size=0,
        sha256="0" * 64,
        kind="segmentation",
        is_active=True,
    )


_uids = iter(range(1, 10_000))


def make_study(patient, *, days_ago=0, modality="CT", accession="", description="", **fields):
    n = next(_uids)
    study = Study.objects.create(
        study_uid=f"1.2.826.0.1.{n}",
        patient=patient,
        dicom_patient_id=patient.mrn if patient else "UNKNOWN",
        patient_name=patient.name if patient else "Unknown^Person",
        study_date=TODAY - dt.timedelta(days=days_ago),
        modalities=modality,
        accession_number=accession or f"ACC{n:05d}",
        study_description=description or f"study {n}",
        **fields,
    )
    Series.objects.create(series_uid=f"{study.study_uid}.1", study=study, modality=modality)
    return study


def add_job(study, version, status, progress=0, series=None):
    return InferenceJob.objects.create(
        model_version=version,
        study=study,
        series=series or study.series.first(),
        status=status,
        progress=progress,
    )


def add_finding(study, version, *, label="nodule", diameter=None, urgent=False, **fields):
    return Finding.objects.create(
        model_version=version,
        study=study,
        series=study.series.first(),
        label=label,
        kind="segmentation",
        diameter_mm=diameter,
        urgent=urgent,
        **fields,
    )


def page_ids(response) -> list[int]:
    return [s.pk for s in response.context["rows"]]


def live(client, *studies) -> dict:
    response = client.get(STATUS, {"ids": ",".join(str(s.pk) for s in studies)})
    assert response.status_code == 200
    return {row["id"]: row for row in response.json()["rows"]}


# --- Order ----------------------------------------------------------------------------------


def test_urgent_studies_come_first_then_the_largest_finding(client_as, owner, patient, version):
    plain_new = make_study(patient, days_ago=0)
    small = make_study(patient, days_ago=5)
    add_finding(small, version, diameter=4.0)
    large = make_study(patient, days_ago=6)
    add_finding(large, version, diameter=20.0)
    urgent_small = make_study(patient, days_ago=7)
    add_finding(urgent_small, version, diameter=9.0, urgent=True)
    urgent_large = make_study(patient, days_ago=8)
    add_finding(urgent_large, version, diameter=12.0, urgent=True)
    add_finding(urgent_large, version, diameter=30.0)  # larger, but not the most urgent
    signed_newer = make_study(patient, days_ago=0, review_status="signed")
    plain_old = make_study(patient, days_ago=3)

    response = client_as(owner).get(WORKLIST)

    assert response.status_code == 200
    assert page_ids(response) == [
        urgent_large.pk,
        urgent_small.pk,
        large.pk,
        small.pk,
        plain_new.pk,
        plain_old.pk,
        signed_newer.pk,  # unsigned before signed, whatever the date
    ]


def test_a_rejected_urgent_finding_does_not_count(client_as, owner, patient, version):
    rejected = make_study(patient, days_ago=0)
    add_finding(rejected, version, diameter=40.0, urgent=True, status=FindingStatus.REJECTED)
    add_finding(rejected, version, label="cyst", diameter=3.0)
    accepted = make_study(patient, days_ago=1)
    add_finding(accepted, version, diameter=6.0, urgent=True, status=FindingStatus.ACCEPTED)

    response = client_as(owner).get(WORKLIST)

    assert page_ids(response) == [accepted.pk, rejected.pk]
    row = response.context["rows"][1]
    assert (row.ai_urgent, row.top_finding_label, row.findings_count) == (False, "cyst", 1)


def test_a_real_read_study_shows_its_most_urgent_finding(client_as, owner, read_study):
    findings = list(Finding.objects.filter(study=read_study).order_by("-diameter_mm"))
    assert findings[0].urgent and not findings[1].urgent
    other = make_study(read_study.patient, days_ago=0)
    other.study_date = read_study.study_date + dt.timedelta(days=1)  # newer, but nothing found
    other.save(update_fields=["study_date"])

    response = client_as(owner).get(WORKLIST)

    assert page_ids(response) == [read_study.pk, other.pk]
    row = response.context["rows"][0]
    assert row.live["ai_status"] == "done"
    assert row.live["urgent"] is True
    assert row.live["findings_count"] == 2
    assert row.live["top_finding_label"] == findings[0].label
    assert row.live["top_finding_diameter_mm"] == round(findings[0].diameter_mm, 1)
    body = response.content.decode()
    assert f"{findings[0].diameter_mm:.1f} mm" in body
    assert reverse("imaging:study_viewer", args=[read_study.pk]) in body
    assert read_study.patient.mrn in body


# --- AI status and review status ------------------------------------------------------------


@pytest.mark.parametrize(
    "jobs, expected, progress",
    [
        ([], "none", 0),
        ([(JobStatus.SKIPPED, 0), (JobStatus.CANCELLED, 0)], "none", 0),
        ([(JobStatus.QUEUED, 0)], "queued", 0),
        ([(JobStatus.QUEUED, 0), (JobStatus.RUNNING, 30), (JobStatus.RUNNING, 70)], "running", 70),
        ([(JobStatus.SUCCEEDED, 100), (JobStatus.RUNNING, 40)], "running", 40),
        ([(JobStatus.SUCCEEDED, 100)], "done", 0),
        ([(JobStatus.FAILED, 0), (JobStatus.SUCCEEDED, 100)], "done", 0),
        ([(JobStatus.SUCCEEDED, 100), (JobStatus.SKIPPED, 0)], "done", 0),
        ([(JobStatus.FAILED, 0)], "failed", 0),
        ([(JobStatus.FAILED, 0), (JobStatus.CANCELLED, 0)], "failed", 0),
        # The re-run failed: the earlier result is stale.
        ([(JobStatus.SUCCEEDED, 100), (JobStatus.FAILED, 0)], "failed", 0),
    ],
)
def test_the_ai_status_follows_the_jobs(
    client_as, owner, patient, version, jobs, expected, progress
):
    study = make_study(patient)
    for status, percent in jobs:
        add_job(study, version, status, percent)

    row = live(client_as(owner), study)[study.pk]

    assert (row["ai_status"], row["ai_progress"]) == (expected, progress)
    assert row["ai_finished"] is (expected not in ("queued", "running"))


def test_one_model_done_and_another_failed_is_done(client_as, owner, patient, version):
    other_model = AIModel.objects.create(name="other", title="Other")
    other = ModelVersion.objects.create(
        model=other_model, version="2", bundle_file="o.zip", size=0, sha256="1" * 64, kind="x"
    )
    study = make_study(patient)
    add_job(study, version, JobStatus.SUCCEEDED, 100)
    add_job(study, other, JobStatus.FAILED)

    assert live(client_as(owner), study)[study.pk]["ai_status"] == "done"


def test_the_page_shows_ai_progress_and_review_status(client_as, owner, patient, version, settings):
    settings.LANGUAGE_CODE = "en"
    running = make_study(patient, review_status="in_progress")
    add_job(running, version, JobStatus.RUNNING, 45)
    signed = make_study(patient, review_status="signed")

    response = client_as(owner).get(WORKLIST, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()

    rows = {s.pk: s for s in response.context["rows"]}
    assert rows[running.pk].live["ai_status_display"] == "Running"
    assert rows[running.pk].live["review_status_display"] == "Being read"
    assert rows[signed.pk].live["review_status_display"] == "Signed"
    assert 'value="45"' in body
    assert "Being read" in body and "Signed" in body


# --- Filters --------------------------------------------------------------------------------


@pytest.fixture
def department_patient(cardiology):
    """A patient under the cardiology department's care (no encounter with Dr Alice)."""
    patient = PatientFactory(name="李四", mrn="D00000042")
    EpisodeFactory(patient=patient, department=cardiology)
    return patient


def test_the_department_scope_has_the_department_s_patients_only(
    client_as, owner, patient, department_patient
):
    mine = make_study(patient)
    theirs = make_study(department_patient)
    client = client_as(owner)

    assert set(page_ids(client.get(WORKLIST))) == {mine.pk, theirs.pk}
    assert page_ids(client.get(WORKLIST, {"scope": "department"})) == [theirs.pk]
    EpisodeOfCare.objects.update(status=EpisodeOfCare.Status.CLOSED)
    assert page_ids(client.get(WORKLIST, {"scope": "department"})) == []


def test_the_department_scope_shows_nothing_the_doctor_may_not_see(
    owner, department_patient, monkeypatch
):
    study = make_study(department_patient)
    assert list(worklist_studies(user=owner, scope="department")) == [study]
    from imaging import access

    monkeypatch.setattr(access, "studies_visible_to", lambda user: Study.objects.none())
    assert list(worklist_studies(user=owner, scope="department")) == []


def test_an_admin_s_department_is_the_whole_hospital(client_as, admin_user, patient):
    study = make_study(patient)
    unmatched = make_study(None)

    ids = page_ids(client_as(admin_user).get(WORKLIST, {"scope": "department"}))

    assert set(ids) == {study.pk, unmatched.pk}


def test_the_filters_narrow_the_list(client_as, owner, patient, version):
    ct = make_study(patient, days_ago=10, modality="CT", accession="RAD-7731")
    add_job(ct, version, JobStatus.SUCCEEDED, 100)
    mr = make_study(patient, days_ago=2, modality="MR", review_status="signed")
    add_job(mr, version, JobStatus.FAILED)
    queued = make_study(patient, days_ago=1, modality="CT", review_status="in_progress")
    add_job(queued, version, JobStatus.QUEUED)
    client = client_as(owner)

    def ids(**params):
        response = client.get(WORKLIST, params)
        assert response.status_code == 200
        assert not response.context["form"].errors
        return set(page_ids(response))

    assert ids(ai="done") == {ct.pk}
    assert ids(ai="failed") == {mr.pk}
    assert ids(ai="queued") == {queued.pk}
    assert ids(ai="none") == set()
    assert ids(review="signed") == {mr.pk}
    assert ids(review="in_progress") == {queued.pk}
    assert ids(review="unread") == {ct.pk}
    assert ids(modality="MR") == {mr.pk}
    assert ids(modality="CT") == {ct.pk, queued.pk}
    assert ids(date_from=str(TODAY - dt.timedelta(days=2))) == {mr.pk, queued.pk}
    assert ids(date_to=str(TODAY - dt.timedelta(days=2))) == {ct.pk, mr.pk}
    assert ids(q="rad-77") == {ct.pk}
    assert ids(modality="CT", review="in_progress", ai="queued") == {queued.pk}


def test_a_search_finds_a_study_by_mrn_or_patient_name(client_as, owner, patient, cardiology):
    other = PatientFactory(name="陈静")
    EpisodeFactory(patient=other, department=cardiology)
    study = make_study(patient)
    other_study = make_study(other)
    client = client_as(owner)

    assert page_ids(client.get(WORKLIST, {"q": patient.mrn.lower()})) == [study.pk]
    assert page_ids(client.get(WORKLIST, {"q": patient.mrn[2:]})) == [study.pk]
    assert page_ids(client.get(WORKLIST, {"q": "陈"})) == [other_study.pk]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-40"}, "date_to"),
        ({"date_from": "2026-03-10", "date_to": "2026-03-01"}, "date_to"),
        ({"scope": "everyone"}, "scope"),
        ({"ai": "exploded"}, "ai"),
        ({"review": "approved"}, "review"),
        ({"modality": "XX"}, "modality"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_a_bad_filter_shows_a_form_error_not_a_server_error(
    client_as, owner, patient, params, field
):
    study = make_study(patient)

    response = client_as(owner).get(WORKLIST, params)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert 'class="error"' in response.content.decode()
    assert page_ids(response) == [study.pk]  # the bad field filters nothing


def test_the_list_is_paged_fifty_at_a_time(client_as, owner, patient):
    for n in range(51):
        make_study(patient, days_ago=n)
    client = client_as(owner)

    first = client.get(WORKLIST)
    second = client.get(WORKLIST, {"page": 2})

    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 1
    assert client.get(WORKLIST, {"page": "many"}).status_code == 200


def test_the_page_costs_the_same_queries_however_many_rows(client_as, owner, patient, version):
    client = client_as(owner)
    study = make_study(patient)
    add_job(study, version, JobStatus.RUNNING, 10)
    add_finding(study, version, diameter=5.0)
    client.get(WORKLIST)  # warm the session and the caches
    with CaptureQueriesContext(connection) as one:
        client.get(WORKLIST)
        client.get(STATUS, {"ids": str(study.pk)})
    for n in range(6):
        more = make_study(patient, days_ago=n + 1)
        add_job(more, version, JobStatus.SUCCEEDED, 100)
        add_finding(more, version, diameter=float(n), urgent=n % 2 == 0)
    ids = ",".join(str(pk) for pk in Study.objects.values_list("pk", flat=True))
    with CaptureQueriesContext(connection) as seven:
        client.get(WORKLIST)
        client.get(STATUS, {"ids": ids})
    assert len(seven) == len(one)


# --- The live update ------------------------------------------------------------------------


def test_the_status_json_gives_the_rows_live_columns(client_as, owner, patient, version):
    study = make_study(patient)
    add_job(study, version, JobStatus.RUNNING, 60)
    add_finding(study, version, label="mass", diameter=14.26, urgent=True)

    row = live(client_as(owner), study)[study.pk]

    assert row == {
        "id": study.pk,
        "ai_status": "running",
        "ai_status_display": row["ai_status_display"],
        "ai_finished": False,
        "ai_progress": 60,
        "urgent": True,
        "top_finding_label": "mass",
        "top_finding_diameter_mm": 14.3,
        "findings_count": 1,
        "review_status": "unread",
        "review_status_display": row["review_status_display"],
        "order_key": "1|14.3|1|0",
    }


def test_the_page_and_the_json_agree_on_the_order_key(client_as, owner, patient, version):
    study = make_study(patient)
    add_finding(study, version, diameter=7.77)
    client = client_as(owner)

    page_row = client.get(WORKLIST).context["rows"][0]

    assert page_row.live["order_key"] == live(client, study)[study.pk]["order_key"]
    assert f'data-order-key="{page_row.live["order_key"]}"' in client.get(WORKLIST).content.decode()


@pytest.mark.parametrize(
    "ids", ["1,two", "1;2", "9" * 30, "١٢", ",".join(str(n) for n in range(1, 52)), "-1"]
)
def test_bad_ids_are_refused(client_as, owner, ids):
    response = client_as(owner).get(STATUS, {"ids": ids})
    assert response.status_code == 400
    assert "error" in response.json()


def test_the_status_json_writes_no_audit_row(client_as, owner, patient):
    study = make_study(patient)
    client = client_as(owner)
    before = AuditEvent.objects.count()

    for _ in range(3):
        live(client, study)

    assert AuditEvent.objects.count() == before


def test_the_page_writes_one_search_audit_row(client_as, owner, patient):
    make_study(patient)
    client = client_as(owner)
    before = AuditEvent.objects.filter(action=AuditAction.SEARCH, user=owner).count()

    client.get(WORKLIST, {"q": patient.mrn, "scope": "mine", "modality": "CT"})

    events = AuditEvent.objects.filter(action=AuditAction.SEARCH, user=owner).order_by("seq")
    assert events.count() == before + 1
    details = events.last().details
    assert details["scope"] == "worklist"
    assert details["query"] == patient.mrn
    assert details["filters"] == {"scope": "mine", "modality": "CT"}
    assert details["results"] == 1


# --- Who may see what -----------------------------------------------------------------------


def test_an_outsider_sees_none_of_the_patient_s_studies(client_as, outsider, patient, version):
    study = make_study(patient, accession="SECRET-1")
    add_finding(study, version, diameter=12.0, urgent=True)
    client = client_as(outsider)

    for params in ({}, {"scope": "department"}, {"q": patient.mrn}):
        response = client.get(WORKLIST, params)
        assert response.status_code == 200
        assert page_ids(response) == []
        body = response.content.decode()
        assert patient.name not in body and "SECRET-1" not in body
        assert params or patient.mrn not in body  # a search echoes what was typed, no more
    assert live(client, study) == {}


def test_the_status_json_leaves_out_studies_the_doctor_may_not_see(client_as, owner, patient):
    mine = make_study(patient)
    stranger = make_study(PatientFactory(name="孙悟空"))
    unmatched = make_study(None)

    assert set(live(client_as(owner), mine, stranger, unmatched)) == {mine.pk}


@pytest.mark.parametrize("persona", ["receptionist", "colleague", "scheduler"])
def test_other_roles_are_refused(client_as, request, patient, persona):
    user = request.getfixturevalue(persona)
    study = make_study(patient)
    client = client_as(user)

    assert client.get(WORKLIST).status_code == 403
    assert client.get(STATUS, {"ids": str(study.pk)}).status_code == 403


def test_a_patient_account_is_refused(client_as, patient):
    account = UserFactory(role=Role.PATIENT)
    patient.account = account
    patient.save(update_fields=["account"])
    make_study(patient)

    assert client_as(account).get(WORKLIST).status_code == 403


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    assert client.get(WORKLIST).status_code == 302
    assert client.get(STATUS, {"ids": "1"}).status_code == 302


# --- The home page --------------------------------------------------------------------------


def test_a_doctor_s_home_page_shows_the_worklist(client_as, owner, patient, version):
    urgent = make_study(patient, days_ago=3, description="CT chest")
    add_finding(urgent, version, label="nodule", diameter=11.0, urgent=True)
    plain = make_study(patient, days_ago=0)

    response = client_as(owner).get("/")

    assert response.status_code == 200
    assert [s.pk for s in response.context["worklist"]] == [urgent.pk, plain.pk]
    body = response.content.decode()
    assert 'data-testid="home-worklist"' in body
    assert reverse("imaging:study_viewer", args=[urgent.pk]) in body
    assert WORKLIST in body
    assert "js/worklist.js" in body
    assert "11.0 mm" in body


def test_the_home_page_shows_at_most_twenty_rows(client_as, owner, patient):
    for n in range(21):
        make_study(patient, days_ago=n)

    response = client_as(owner).get("/")

    assert len(response.context["worklist"]) == 20
