"""Pages of the model service: the registry (models and their cards), activation and rollback,
and running AI on a study from its page. Writes go through imaging.registry and
imaging.inference, which audit them."""

import io
import zipfile

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import Actor
from clinic.models import Role

from . import access, selectors
from .ai.bundle import BundleError
from .inference import inference_request
from .models import AIModel, ModelVersion
from .registry import model_rollback, model_storage, model_version_activate

REGISTRY_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE)
RUN_ROLES = (Role.ADMIN, Role.DOCTOR)
README_LIMIT = 20_000


def _require(request, roles) -> None:
    if request.user.role not in roles:
        raise PermissionDenied


def _bundle_readme(version: ModelVersion) -> str:
    """The bundle's own docs/README.md (its model card text), shown as plain text."""
    try:
        with model_storage().open(version.bundle_file, "rb") as stored:
            archive = zipfile.ZipFile(io.BytesIO(stored.read()))
        name = next((n for n in archive.namelist() if n.endswith("docs/README.md")), None)
        if name is None:
            return ""
        return archive.read(name).decode("utf-8", "replace")[:README_LIMIT]
    except (OSError, zipfile.BadZipFile):
        return ""


@login_required
@require_GET
def model_list(request):
    _require(request, REGISTRY_ROLES)
    return render(request, "imaging/model_list.html", {"models": selectors.model_list()})


@login_required
@require_GET
def model_card(request, name):
    _require(request, REGISTRY_ROLES)
    model = get_object_or_404(selectors.model_list(), name=name)
    versions = list(model.versions.all())
    shown = next((v for v in versions if v.is_active), versions[0] if versions else None)
    if request.GET.get("version"):
        shown = next((v for v in versions if v.version == request.GET["version"]), shown)
    metadata = shown.metadata if shown else {}
    data_format = metadata.get("network_data_format") or {}
    return render(
        request,
        "imaging/model_card.html",
        {
            "model": model,
            "versions": versions,
            "shown": shown,
            "metadata": metadata,
            "inputs": data_format.get("inputs") or {},
            "outputs": data_format.get("outputs") or {},
            "metrics": metadata.get("eval_metrics") or {},
            "readme": _bundle_readme(shown) if shown else "",
            "may_manage": request.user.role == Role.ADMIN,
            "has_earlier": any(v.activated_at and not v.is_active for v in versions),
        },
    )


@login_required
@require_POST
def model_version_activate_view(request, name, pk):
    _require(request, (Role.ADMIN,))
    version = get_object_or_404(
        ModelVersion.objects.select_related("model"), pk=pk, model__name=name
    )
    model_version_activate(
        version=version,
        actor=Actor.from_request(request),
        reason=request.POST.get("reason", "")[:200],
    )
    messages.success(request, _("%(version)s is now the active version.") % {"version": version})
    return redirect("imaging:model_card", name=name)


@login_required
@require_POST
def model_rollback_view(request, name):
    _require(request, (Role.ADMIN,))
    model = get_object_or_404(AIModel, name=name)
    try:
        version = model_rollback(
            model=model,
            actor=Actor.from_request(request),
            reason=request.POST.get("reason", "")[:200],
        )
    except BundleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Rolled back to %(version)s.") % {"version": version})
    return redirect("imaging:model_card", name=name)


@login_required
@require_POST
def study_inference_run(request, pk):
    """The study page's "Run AI": every routed model, or the one chosen."""
    study = get_object_or_404(
        access.studies_visible_to(request.user).select_related("patient"), pk=pk
    )
    _require(request, RUN_ROLES)
    model = None
    if request.POST.get("model"):
        model = get_object_or_404(AIModel, name=request.POST["model"], versions__is_active=True)
    jobs = inference_request(study=study, actor=Actor.from_request(request), model=model)
    queued = sum(1 for j in jobs if not j.is_finished)
    if jobs:
        messages.success(
            request,
            _("%(queued)d job(s) queued, %(skipped)d series skipped (see below).")
            % {"queued": queued, "skipped": len(jobs) - queued},
        )
    else:
        messages.warning(request, _("No active model is routed to this study's series."))
    return redirect("imaging:study_detail", pk=study.pk)


@login_required
@require_GET
def study_inference_status(request, pk):
    """Progress of the study's jobs for the study page, polled while any is unfinished.
    Audited once per study per session, like DICOMweb reads."""
    from django.http import JsonResponse

    from .dicomweb.lookup import audit_retrieve

    study = get_object_or_404(
        access.studies_visible_to(request.user).select_related("patient"), pk=pk
    )
    audit_retrieve(request, study)
    jobs = [
        {
            "job": job.pk,
            "status": job.status,
            "status_display": job.get_status_display(),
            "progress": job.progress,
            "finished": job.is_finished,
        }
        for job in selectors.study_jobs(study)[:20]
    ]
    return JsonResponse({"jobs": jobs})


@login_required
@require_GET
def finding_overlay(request, pk, sop_uid):
    """One frame of a heatmap finding as an 8-bit greyscale PNG (0..255 = no..most attention),
    the frame's own size, for the viewer to colour and lay over the image."""
    import numpy as np
    from django.core.files.storage import default_storage
    from django.http import Http404, HttpResponse
    from PIL import Image

    from .dicomweb.lookup import audit_retrieve
    from .models import Finding

    finding = get_object_or_404(
        Finding.objects.filter(study__in=access.studies_visible_to(request.user)).exclude(
            overlay_file=""
        ),
        pk=pk,
    )
    audit_retrieve(request, finding.study_id)
    with default_storage.open(finding.overlay_file, "rb") as stored:
        data = np.load(io.BytesIO(stored.read()))
        uids = [str(u) for u in data["sop_instance_uids"]]
        if sop_uid not in uids:
            raise Http404
        frame = data["heat"][uids.index(sop_uid)]
    buffer = io.BytesIO()
    Image.fromarray(frame, mode="L").save(buffer, format="PNG")
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response
