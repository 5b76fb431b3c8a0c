"""The demo hospital's imaging and AI: the demo lung nodule model (a bundle trained here on
synthetic phantoms, imaging/ai/demo/) registered and routed to chest CT, and a few synthetic
chest CT studies of respiratory patients with inference queued, so findings exist once the
worker of ``make run`` has run them. A ``seed_demo`` step; idempotent like the others."""

import io
from pathlib import Path

from django.conf import settings

from clinic.audit import Actor
from clinic.models import Patient

from .models import AIModel, RoutingRule, Study

DEMO_BUNDLE = Path(__file__).resolve().parent / "ai" / "demo" / "lung_nodule_ct"
# The same weights stored in half precision: a second, inactive version of the same model.
DEMO_BUNDLE_FP16 = DEMO_BUNDLE.with_name("lung_nodule_ct_fp16")
DEMO_MODEL = "lung-nodule-ct"
# Phantoms whose large nodules the demo model finds: a showcase. Its measured sensitivity and
# false positives on a held-out set are on its model card, not here.
DEMO_SEEDS = (2033, 2037, 2029, 2036, 2032)


def _demo_study_uid(patient: Patient) -> str:
    from pydicom.uid import generate_uid

    return generate_uid(entropy_srcs=["aimass-demo-chest-ct", patient.mrn])


def seed_imaging() -> dict[str, int]:
    """The demo model and DEMO_CHEST_CT_STUDIES synthetic chest CT studies (0: skip the step)."""
    from .inference import inference_request
    from .registry import model_version_import
    from .services import IngestSession

    count = settings.DEMO_CHEST_CT_STUDIES
    if count <= 0:
        return {}
    created = {"models": 0, "routing_rules": 0, "studies": 0, "inference_jobs": 0}
    actor = Actor.system(None)
    model = AIModel.objects.filter(name=DEMO_MODEL).first()
    if model is None:
        version = model_version_import(
            source=DEMO_BUNDLE, actor=actor, activate=True, name=DEMO_MODEL
        )
        model = version.model
        model_version_import(source=DEMO_BUNDLE_FP16, actor=actor, name=DEMO_MODEL)
        created["models"] += 1
    if not model.routing_rules.exists():
        RoutingRule.objects.create(model=model, modality="CT", body_part="CHEST", min_slices=16)
        created["routing_rules"] += 1

    from pydicom import dcmwrite

    from .ai.demo.phantom import chest_ct_phantom

    patients = list(
        Patient.objects.filter(encounters__department__code="respiratory")
        .distinct()
        .order_by("mrn")
    )[:count] or list(Patient.objects.order_by("mrn")[:count])
    patients = patients[: len(DEMO_SEEDS)]
    for index, patient in enumerate(patients):
        study_uid = _demo_study_uid(patient)
        if Study.objects.filter(study_uid=study_uid).exists():
            continue
        phantom = chest_ct_phantom(
            DEMO_SEEDS[index],
            patient_id=patient.mrn,
            patient_name=patient.name,
            study_uid=study_uid,
        )
        with IngestSession(actor=actor, source="demo") as session:
            for ds in phantom.datasets:
                buffer = io.BytesIO()
                dcmwrite(buffer, ds, enforce_file_format=True)
                session.ingest(buffer.getvalue())
        created["studies"] += 1
        study = Study.objects.prefetch_related("series").get(study_uid=study_uid)
        jobs = inference_request(study=study, actor=actor, model=model)
        created["inference_jobs"] += sum(1 for job in jobs if not job.is_finished)
    return created
