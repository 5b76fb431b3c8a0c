"""The registry: versions imported through storage with their sha256, one active version per
model, activation and rollback audited, duplicates refused."""

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clinic.audit import Actor
from clinic.models import AuditEvent
from imaging.ai.bundle import BundleError
from imaging.models import ModelVersion
from imaging.registry import (
    bundle_local_path,
    model_rollback,
    model_storage,
    model_version_activate,
    model_version_import,
)
from tests.ai_core.builders import threshold_bundle

pytestmark = pytest.mark.django_db


def _import(tmp_path, version, **kwargs):
    root = threshold_bundle(tmp_path / version / "lesion-finder", version=version)
    return model_version_import(source=root, actor=Actor.system(None), **kwargs)


def test_an_imported_version_keeps_its_bundle_in_storage_under_its_checksum(tmp_path):
    version = _import(tmp_path, "1.0.0")
    with model_storage().open(version.bundle_file, "rb") as stored:
        data = stored.read()
    assert hashlib.sha256(data).hexdigest() == version.sha256 and len(data) == version.size
    assert (version.model.name, version.kind, version.labels) == (
        "lesion-finder",
        "segmentation",
        {"1": "lesion"},
    )
    assert version.not_for_clinical_use and not version.is_active
    assert AuditEvent.objects.filter(action="import", object_id=str(version.pk)).exists()
    # A worker unpacks it once into its cache and finds the same bundle.
    local = bundle_local_path(version)
    assert (local / "configs" / "metadata.json").is_file()
    assert bundle_local_path(version) == local


def test_one_version_is_active_and_rollback_returns_to_the_previous_one(tmp_path):
    first = _import(tmp_path, "1.0.0", activate=True)
    second = _import(tmp_path, "1.1.0", activate=True)
    first.refresh_from_db()
    assert second.is_active and not first.is_active
    assert ModelVersion.objects.filter(model=first.model, is_active=True).count() == 1

    rolled_back = model_rollback(model=first.model, actor=Actor.system(None), reason="bad recall")

    assert rolled_back.pk == first.pk
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]
    events = AuditEvent.objects.filter(object_type="modelversion", action="update").order_by("id")
    assert [e.details["version"] for e in events] == ["1.0.0", "1.1.0", "1.0.0"]
    assert events.last().details["previous"] == "1.1.0" and events.last().reason == "bad recall"


def test_a_model_never_activated_before_cannot_roll_back(tmp_path):
    version = _import(tmp_path, "1.0.0")
    model_version_activate(version=version, actor=Actor.system(None))
    with pytest.raises(BundleError) as error:
        model_rollback(model=version.model, actor=Actor.system(None))
    assert error.value.code == "no_previous_version"


def test_the_same_version_twice_is_refused(tmp_path):
    _import(tmp_path, "1.0.0")
    with pytest.raises(BundleError) as error:
        _import(tmp_path / "again", "1.0.0")
    assert error.value.code == "version_exists"
    assert ModelVersion.objects.count() == 1


def test_import_model_prints_name_and_version_and_explains_a_bad_bundle(tmp_path, capsys):
    root = threshold_bundle(tmp_path / "lesion-finder", version="3.0.0")
    call_command("import_model", str(root), "--activate")
    assert capsys.readouterr().out.strip() == '{"name": "lesion-finder", "version": "3.0.0"}'
    assert ModelVersion.objects.get(version="3.0.0").is_active

    (root / "configs" / "metadata.json").unlink()
    with pytest.raises(CommandError, match="metadata_missing"):
        call_command("import_model", str(root))
