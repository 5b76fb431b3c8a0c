"""The model registry: import a MONAI Bundle as a new version, activate it, roll back.

A bundle is checked completely at import — metadata, config, weights and a forward pass with the
declared input — so a bad bundle is refused with a clear code then, never at 3 a.m. in a job.
The stored artifact is a zip of the bundle folder, kept through the storage API under its
sha256; workers unpack it once into a local cache (``bundle_local_path``).
"""

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from clinic.audit import Actor, audit_record
from clinic.models import AuditAction

from .ai.bundle import BundleError, BundleInfo, bundle_inspect, bundle_unpack
from .models import AIModel, ModelVersion


def model_storage():
    return storages["models"]


def _zip_folder(root: Path) -> bytes:
    """A deterministic zip of the bundle (sorted names, fixed times): same files, same sha256."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            relative = path.relative_to(root)
            if any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
                continue
            info = zipfile.ZipInfo(
                f"{root.name}/{relative.as_posix()}", date_time=(2020, 1, 1, 0, 0, 0)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def bundle_validate(root: Path, *, name: str | None = None) -> BundleInfo:
    """Everything a job would need, tried once: raises BundleError with a stable code."""
    import torch

    from .ai.runner import bundle_check, bundle_load  # torch: only when a bundle is imported

    info = bundle_inspect(root, name=name)
    bundle_check(bundle_load(info, device=torch.device("cpu")))
    return info


def model_version_import(
    *, source: Path, actor: Actor, activate: bool = False, name: str | None = None
) -> ModelVersion:
    """Register the bundle at ``source`` (folder or zip) as a new version of its model."""
    with tempfile.TemporaryDirectory(prefix="bundle-") as workdir:
        root = bundle_unpack(Path(source), Path(workdir))
        info = bundle_validate(root, name=name)
        data = _zip_folder(root)
    sha256 = hashlib.sha256(data).hexdigest()
    storage_name = f"{info.name}/{info.version}-{sha256[:16]}.zip"
    storage = model_storage()
    if not storage.exists(storage_name):
        storage.save(storage_name, ContentFile(data))
    metadata = info.metadata
    try:
        with transaction.atomic():
            model, _ = AIModel.objects.get_or_create(name=info.name, defaults={"title": info.title})
            model.title = info.title
            model.description = str(metadata.get("description") or "")[:4000]
            model.full_clean()
            model.save(update_fields=["title", "description"])
            version = ModelVersion(
                model=model,
                version=info.version,
                bundle_file=storage_name,
                size=len(data),
                sha256=sha256,
                metadata=metadata,
                kind=info.kind,
                labels={str(k): v for k, v in info.labels.items()},
                not_for_clinical_use=info.not_for_clinical_use,
                imported_by=actor.user if getattr(actor.user, "is_authenticated", False) else None,
            )
            version.full_clean(validate_constraints=False)
            version.save()
            audit_record(
                actor=actor,
                action=AuditAction.IMPORT,
                obj=version,
                details={"model": model.name, "version": version.version, "sha256": sha256},
            )
            if activate:
                model_version_activate(version=version, actor=actor)
    except IntegrityError as exc:
        raise BundleError(
            "version_exists",
            f"{info.name} {info.version} is already registered; raise the version.",
        ) from exc
    return version


def model_version_import_upload(
    *, upload, actor: Actor, activate: bool, name: str | None
) -> ModelVersion:
    """Import an uploaded bundle zip (the API's and the admin's uploads): raises BundleError."""
    with tempfile.TemporaryDirectory(prefix="bundle-upload-") as workdir:
        # The file's name matters: a zip of a bundle's contents is named after the zip.
        try:
            filename = get_valid_filename(Path(upload.name or "").name)
        except SuspiciousFileOperation:
            filename = "bundle.zip"
        source = Path(workdir) / filename
        with source.open("wb") as target:
            for chunk in upload.chunks():
                target.write(chunk)
        return model_version_import(source=source, actor=actor, activate=activate, name=name)


@transaction.atomic
def model_version_activate(
    *, version: ModelVersion, actor: Actor, reason: str = ""
) -> ModelVersion:
    """Make ``version`` the one active version of its model (audited)."""
    # Lock the model's versions so two activations cannot interleave.
    versions = list(ModelVersion.objects.select_for_update().filter(model_id=version.model_id))
    previous = next((v for v in versions if v.is_active), None)
    if previous is not None and previous.pk == version.pk:
        return version
    ModelVersion.objects.filter(model_id=version.model_id, is_active=True).update(is_active=False)
    version.is_active = True
    version.activated_at = timezone.now()
    version.save(update_fields=["is_active", "activated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        obj=version,
        reason=reason,
        details={
            "event": "activate",
            "model": version.model.name,
            "version": version.version,
            "previous": previous.version if previous else None,
        },
    )
    return version


def model_rollback(*, model: AIModel, actor: Actor, reason: str = "") -> ModelVersion:
    """Re-activate the version that was active before the current one."""
    current = model.active_version
    earlier = model.versions.filter(activated_at__isnull=False)
    if current is not None:
        earlier = earlier.exclude(pk=current.pk).filter(activated_at__lt=current.activated_at)
    target = earlier.order_by("-activated_at").first()
    if target is None:
        raise BundleError("no_previous_version", f"{model.name} has no earlier active version.")
    return model_version_activate(version=target, actor=actor, reason=reason or "rollback")


def bundle_local_path(version: ModelVersion) -> Path:
    """The version's bundle unpacked in this machine's cache (by sha256), unpacked once."""
    cache = Path(settings.MODEL_CACHE_DIR)
    target = cache / version.sha256
    if (target / "ready").exists():
        return next(p for p in target.iterdir() if p.is_dir())
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=".unpack-"))
    try:
        with model_storage().open(version.bundle_file, "rb") as stored:
            data = stored.read()
        if hashlib.sha256(data).hexdigest() != version.sha256:
            raise BundleError("bundle_altered", "The stored bundle no longer matches its sha256.")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(staging)
        (staging / "ready").touch()
        try:
            os.replace(staging, target)  # atomic; another process may have won the race
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return next(p for p in target.iterdir() if p.is_dir())
