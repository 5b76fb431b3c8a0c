"""Exporting a study: de-identified by default (no identifying value left in any file, UIDs
remapped consistently so the AI's SEG still points at its images, dates shifted, burned-in
images left out), as stored only when asked, audited either way; outsiders get 404."""

import io
import zipfile

import pydicom
import pytest
from django.urls import reverse

from clinic.audit import Actor
from clinic.models import AuditEvent
from imaging.models import Instance
from imaging.storage import dicom_storage
from tests.ai_core.builders import ct_series
from tests.review.conftest import SPACING, nodules_hu, study_ingest

pytestmark = pytest.mark.django_db


def export(client, study, **form):
    response = client.post(reverse("imaging:study_export", args=[study.pk]), form)
    assert response.status_code == 200, response
    assert response["Content-Disposition"].startswith("attachment")
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def dicom_files(archive):
    return {
        name: pydicom.dcmread(io.BytesIO(archive.read(name)))
        for name in archive.namelist()
        if name.endswith(".dcm")
    }


def test_a_de_identified_export_keeps_no_identifying_value_anywhere(client_as, owner, read_study):
    patient = read_study.patient
    archive = export(client_as(owner), read_study, pseudonym="TEACHING-7", retain_dates="yes")
    files = dicom_files(archive)
    stored = Instance.objects.filter(series__study=read_study)
    assert len(files) == stored.count()  # CT slices, the SEG and the SR
    secrets = [
        patient.name,
        patient.mrn,
        read_study.study_uid,
        read_study.accession_number,
        patient.birth_date.strftime("%Y%m%d"),
        read_study.study_date.strftime("%Y%m%d"),
    ] + list(stored.values_list("sop_uid", flat=True))
    for name in archive.namelist():
        data = archive.read(name)
        for secret in filter(None, secrets):
            assert secret.encode() not in data, (name, secret)
    for ds in files.values():
        assert ds.PatientName == "TEACHING-7" and ds.PatientIdentityRemoved == "YES"
    # The SEG's references were remapped with the images', so it still points at them.
    images = {ds.SOPInstanceUID for ds in files.values() if ds.Modality == "CT"}
    (seg,) = [ds for ds in files.values() if ds.Modality == "SEG"]
    referenced = {
        group.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        for group in seg.PerFrameFunctionalGroupsSequence
    }
    assert referenced and referenced <= images
    # Dates move together: every CT keeps the same shifted study date.
    dates = {ds.StudyDate for ds in files.values() if ds.Modality == "CT"}
    assert len(dates) == 1 and dates != {read_study.study_date.strftime("%Y%m%d")}
    event = AuditEvent.objects.get(details__event="study_export")
    assert event.patient == patient and event.details["deidentified"] is True
    assert event.details["instances"] == len(files)


def test_images_that_may_show_burned_in_text_are_left_out(client_as, owner, patient, admin_user):
    datasets = ct_series(
        nodules_hu([(3, 12, 12, 4.0)]),
        spacing=SPACING,
        origin=(0.0, 0.0, 0.0),
        patient_id=patient.mrn,
    )
    datasets[0].BurnedInAnnotation = "YES"
    study = study_ingest(datasets, Actor(user=admin_user))
    archive = export(client_as(owner), study)
    assert len(dicom_files(archive)) == len(datasets) - 1
    event = AuditEvent.objects.get(details__event="study_export")
    assert event.details["left_out_burned_in"] == 1


def test_the_identifiable_export_is_the_stored_bytes_and_is_audited_as_such(
    client_as, owner, read_study
):
    archive = export(client_as(owner), read_study, identifiable="yes")
    exported = {
        pydicom.dcmread(io.BytesIO(archive.read(n))).SOPInstanceUID: archive.read(n)
        for n in archive.namelist()
        if n.endswith(".dcm")
    }
    for instance in Instance.objects.filter(series__study=read_study):
        with dicom_storage().open(instance.file, "rb") as stored:
            assert exported[instance.sop_uid] == stored.read()
    event = AuditEvent.objects.get(details__event="study_export")
    assert event.details["deidentified"] is False


def test_outsiders_nurses_and_the_desk_cannot_export(
    client_as, outsider, colleague, receptionist, read_study
):
    for user in (outsider, colleague, receptionist):
        response = client_as(user).post(reverse("imaging:study_export", args=[read_study.pk]))
        assert response.status_code == 404
    assert not AuditEvent.objects.filter(details__event="study_export").exists()
    page = client_as(outsider).get(reverse("imaging:study_detail", args=[read_study.pk]))
    assert page.status_code == 404
