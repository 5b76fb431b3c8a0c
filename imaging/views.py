"""HTML pages for imaging: the study list, a study's page and the upload page with its JSON
endpoint. Who sees what is decided in imaging.access; instances enter only through
imaging.services.IngestSession."""

import logging
import stat
import zipfile
from collections.abc import Iterator

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import Actor, audit_record
from clinic.forms import DateInput
from clinic.models import AuditAction, Role
from clinic.selectors import patient_identifier_q

from . import access, selectors
from .models import AIModel, Series
from .services import FAILED, IngestResult, IngestSession

logger = logging.getLogger(__name__)

# Staff who work with images; patients reach their own studies through their chart later.
LIST_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE)
# A zip holds at most this many members: a bound on work per request, whatever the bytes.
ZIP_MAX_MEMBERS = 10_000
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class StudySearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=100)
    modality = forms.ChoiceField(label=gettext_lazy("Modality"), required=False)
    date_from = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput())
    unmatched = forms.BooleanField(label=gettext_lazy("Unmatched only"), required=False)

    def __init__(self, *args, modalities: list[str], may_reconcile: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs["placeholder"] = _(
            "Patient name, PatientID or accession number"
        )
        self.fields["modality"].choices = [("", "—"), *((m, m) for m in modalities)]
        if not may_reconcile:
            del self.fields["unmatched"]


def _require_list_role(request) -> None:
    if request.user.role not in LIST_ROLES:
        raise PermissionDenied


def _study_search(studies, data: dict):
    query = data.get("q", "")
    if query:
        studies = studies.filter(
            Q(patient_name__icontains=query)
            | Q(dicom_patient_id__icontains=query)
            | Q(accession_number__icontains=query)
            | patient_identifier_q(query, via="patient__")  # encrypted names: whole only
        )
    if data.get("modality"):
        studies = studies.filter(
            Exists(Series.objects.filter(study=OuterRef("pk"), modality=data["modality"]))
        )
    if data.get("date_from"):
        studies = studies.filter(study_date__gte=data["date_from"])
    if data.get("date_to"):
        studies = studies.filter(study_date__lte=data["date_to"])
    if data.get("unmatched"):
        studies = studies.filter(patient__isnull=True)
    return studies


@login_required
@require_GET
def study_list(request):
    _require_list_role(request)
    visible = access.studies_visible_to(request.user)
    modalities = sorted(
        set(
            Series.objects.filter(study__in=visible)
            .exclude(modality="")
            .order_by()
            .values_list("modality", flat=True)
            .distinct()
        )
    )
    form = StudySearchForm(
        request.GET or None,
        modalities=modalities,
        may_reconcile=request.user.role == Role.ADMIN,
    )
    data = {}
    if form.is_bound:
        form.is_valid()  # shows the errors; the fields that are valid still filter
        data = form.cleaned_data
    studies = (
        _study_search(visible, data)
        .select_related("patient")
        .order_by(
            F("study_date").desc(nulls_last=True), F("study_time").desc(nulls_last=True), "-id"
        )
    )
    page = Paginator(studies, 25).get_page(request.GET.get("page"))
    for study in page:
        study.modality_list = [m for m in study.modalities.split("\\") if m]
    if data.get("q"):
        filters = {k: str(v) for k, v in data.items() if k != "q" and v}
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.SEARCH,
            details={
                "scope": "studies",
                "query": data["q"],
                "filters": filters,
                "results": page.paginator.count,
            },
        )
    return render(request, "imaging/study_list.html", {"form": form, "page": page})


@login_required
@require_GET
def study_detail(request, pk):
    study = get_object_or_404(
        access.studies_visible_to(request.user).select_related("patient"), pk=pk
    )
    with transaction.atomic():
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.VIEW,
            obj=study,
            patient=study.patient,
        )
    return render(
        request,
        "imaging/study_detail.html",
        {
            "study": study,
            "modalities": [m for m in study.modalities.split("\\") if m],
            "series_list": study.series.all(),
            "findings": selectors.study_findings(study),
            "jobs": selectors.study_jobs(study)[:20],
            "models_available": AIModel.objects.filter(versions__is_active=True).order_by("name"),
            "may_run_ai": request.user.role in (Role.ADMIN, Role.DOCTOR),
            "may_open_viewer": request.user.role in access.VIEWER_ROLES,
        },
    )


def _require_store_role(request) -> None:
    if not access.can_store(user=request.user):
        raise PermissionDenied


@login_required
@require_GET
def study_upload(request):
    _require_store_role(request)
    return render(
        request,
        "imaging/study_upload.html",
        {"max_upload_bytes": settings.DICOMWEB_MAX_UPLOAD_BYTES, "upload_text": _upload_text()},
    )


def _upload_text() -> dict:
    """The words upload.js shows, translated here so the script holds none."""
    return {
        "stored": _("stored"),
        "duplicate": _("duplicate"),
        "conflict": _("conflict"),
        "failed": _("failed"),
        "filesDone": _("%(done)s of %(total)s files"),
        "bytesDone": _("%(done)s of %(total)s"),
        "openStudy": _("Open study"),
        "tooLarge": _("The file is larger than the upload limit."),
        "networkError": _("The upload was interrupted; try again."),
        "serverError": _("The server refused the file (HTTP %(status)s)."),
        "allDone": _("All files done."),
    }


@login_required
@require_POST
def study_upload_file(request):
    """Ingest the posted file(s) under ``file``; a zip is unpacked here, one result per member."""
    _require_store_role(request)
    uploads = request.FILES.getlist("file")
    if not uploads:
        return JsonResponse({"error": _("No file was sent.")}, status=400)
    rows: list[dict] = []
    with IngestSession(actor=Actor.from_request(request), source="upload") as session:
        for upload in uploads:
            if _is_zip(upload):
                rows.extend(_ingest_zip(session, upload))
            else:
                rows.append(_ingest_upload(session, upload))
    _add_study_links(rows, user=request.user)
    return JsonResponse({"results": rows})


def _is_zip(upload) -> bool:
    head = upload.read(4)
    upload.seek(0)
    return upload.name.lower().endswith(".zip") or head in ZIP_MAGIC


def _row(name: str, result: IngestResult) -> dict:
    return {
        "name": name,
        "status": result.status,
        "code": result.code,
        "message": result.message,
        "study_uid": result.study_uid,
        "sop_uid": result.sop_uid,
    }


def _failed(name: str, code: str, message: str) -> dict:
    return _row(name, IngestResult(FAILED, code=code, message=message))


def _ingest_bytes(session: IngestSession, name: str, data: bytes) -> dict:
    try:
        return _row(name, session.ingest(data))
    except Exception:
        # One broken file must not lose the results of the others in the batch.
        logger.exception("Upload of %r failed", name)
        return _failed(name, "error", _("The file could not be stored."))


def _ingest_upload(session: IngestSession, upload) -> dict:
    if upload.size > settings.DICOMWEB_MAX_UPLOAD_BYTES:
        return _failed(upload.name, "too_large", _("The file is larger than the upload limit."))
    return _ingest_bytes(session, upload.name, upload.read())


def _unsafe_member(info: zipfile.ZipInfo) -> bool:
    name = info.filename.replace("\\", "/")
    parts = name.split("/")
    is_link = stat.S_ISLNK(info.external_attr >> 16)
    return (
        name.startswith("/")
        or ".." in parts
        or (len(parts[0]) == 2 and parts[0][1] == ":")  # a Windows drive: C:
        or "\x00" in name
        or is_link
    )


def _skipped(info: zipfile.ZipInfo) -> bool:
    parts = info.filename.replace("\\", "/").split("/")
    return info.is_dir() or "__MACOSX" in parts or parts[-1] == ".DS_Store"


def _ingest_zip(session: IngestSession, upload) -> list[dict]:
    limit = settings.DICOMWEB_MAX_UPLOAD_BYTES
    if upload.size > limit:
        return [_failed(upload.name, "too_large", _("The zip is larger than the upload limit."))]
    try:
        archive = zipfile.ZipFile(upload)
    except (zipfile.BadZipFile, OSError, ValueError):
        return [_failed(upload.name, "bad_zip", _("The file is not a readable zip archive."))]
    with archive:
        members = archive.infolist()
        refusal = _zip_refusal(members, limit=limit)
        if refusal:
            return [_failed(upload.name, *refusal)]
        return [
            _ingest_bytes(session, name, data) if failure is None else _failed(name, *failure)
            for name, data, failure in _zip_members(archive, members)
        ]


def _zip_refusal(members: list[zipfile.ZipInfo], *, limit: int) -> tuple[str, str] | None:
    """Why the whole zip is refused, or None: checked before anything is unpacked."""
    if len(members) > ZIP_MAX_MEMBERS:
        return "too_many_files", _("The zip holds more files than one upload may.")
    if any(_unsafe_member(info) for info in members):
        return "unsafe_zip", _("The zip holds absolute paths, '..' or links; it was refused.")
    if sum(info.file_size for info in members if not _skipped(info)) > limit:
        return "too_large", _("The unpacked zip is larger than the upload limit.")
    return None


def _zip_members(archive: zipfile.ZipFile, members) -> Iterator[tuple]:
    """(name, bytes, None) for each member to ingest; (name, b"", (code, message)) for one
    that cannot be read."""
    for info in members:
        if _skipped(info):
            continue
        try:
            with archive.open(info) as member:
                # Never more than the size the directory declared: a lying header is no bomb.
                data = member.read(info.file_size + 1)
        except RuntimeError:  # encrypted
            failure = ("encrypted", _("The file is password-protected."))
        except NotImplementedError:
            failure = ("unsupported_compression", _("The zip compression is not supported."))
        except (zipfile.BadZipFile, OSError, EOFError):
            failure = ("bad_zip", _("The file in the zip is damaged."))
        else:
            failure = None
            if len(data) > info.file_size:
                failure = ("bad_zip", _("The file in the zip is larger than its header says."))
        yield info.filename, (data if failure is None else b""), failure


def _add_study_links(rows: list[dict], *, user) -> None:
    """Link each result to its study's page where the uploader may open it."""
    uids = {row["study_uid"] for row in rows if row["study_uid"] and row["status"] != FAILED}
    pks = dict(
        access.studies_visible_to(user).filter(study_uid__in=uids).values_list("study_uid", "pk")
    )
    for row in rows:
        pk = pks.get(row["study_uid"]) if row["status"] != FAILED else None
        row["study_url"] = reverse("imaging:study_detail", args=[pk]) if pk else None


@login_required
@require_POST
def study_export_view(request, pk):
    """The study as a zip of DICOM files: de-identified unless the form says otherwise."""
    import tempfile

    from django.http import FileResponse

    from .exports import study_export

    if request.user.role not in access.VIEWER_ROLES:
        raise Http404
    study = get_object_or_404(
        access.studies_visible_to(request.user).select_related("patient"), pk=pk
    )
    deidentify = request.POST.get("identifiable") != "yes"
    out = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)
    with transaction.atomic():
        study_export(
            study=study,
            actor=Actor.from_request(request),
            out=out,
            deidentify=deidentify,
            pseudonym=request.POST.get("pseudonym", ""),
            retain_dates=request.POST.get("retain_dates") == "yes",
            retain_device_identity=request.POST.get("retain_device") == "yes",
        )
    name = f"study-{study.pk}-{'deidentified' if deidentify else 'identifiable'}.zip"
    return FileResponse(out, as_attachment=True, filename=name, content_type="application/zip")
