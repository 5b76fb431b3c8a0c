"""Study stability: when no instance has arrived for STABLE_SECONDS, the study is complete
enough to act on (start AI). Fires once per change, from a Celery task — never a thread or a
sleep in a request.

Each ingest bumps ``Study.revision`` and, unless a check is already due, schedules one check.
The check either finds the study quiet and claims the revision (a conditional update plus a
unique StudyStableEvent row, so a redelivered task cannot fire twice), or schedules itself for
the moment the study will have been quiet long enough.
"""

from datetime import timedelta

import django.dispatch
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import Study, StudyStableEvent

# Sent in the worker, after commit, with study=Study and event=StudyStableEvent.
study_stable = django.dispatch.Signal()


def _schedule(study_id: int, delay: float) -> None:
    from .tasks import study_stability_check

    transaction.on_commit(
        lambda: study_stability_check.apply_async((study_id,), countdown=max(delay, 0.0))
    )


def study_changed(*, study_id: int) -> None:
    """Called in the ingest transaction: make sure one check is scheduled."""
    now = timezone.now()
    stable_after = timedelta(seconds=settings.STABLE_SECONDS)
    claimed = (
        Study.objects.filter(pk=study_id)
        .filter(Q(stability_check_due__isnull=True) | Q(stability_check_due__lt=now))
        .update(stability_check_due=now + stable_after)
    )
    if claimed:
        _schedule(study_id, settings.STABLE_SECONDS)


def study_stability_check(*, study_id: int) -> StudyStableEvent | None:
    """Fire the event if the study has been quiet long enough; otherwise check again later."""
    stable_after = timedelta(seconds=settings.STABLE_SECONDS)
    for _attempt in range(3):
        study = Study.objects.filter(pk=study_id).first()
        if study is None or study.stable_revision >= study.revision:
            return None
        now = timezone.now()
        quiet_at = study.last_received_at + stable_after
        if quiet_at > now:
            with transaction.atomic():
                Study.objects.filter(pk=study_id).update(stability_check_due=quiet_at)
                _schedule(study_id, (quiet_at - now).total_seconds() + 0.05)
            return None
        with transaction.atomic():
            claimed = Study.objects.filter(
                pk=study_id, revision=study.revision, stable_revision__lt=study.revision
            ).update(stable_revision=study.revision, stability_check_due=None)
            if not claimed:
                continue  # an instance arrived meanwhile: look again
            try:
                with transaction.atomic():
                    event = StudyStableEvent.objects.create(
                        study=study, revision=study.revision,
                        number_of_instances=study.number_of_instances, fired_at=now,
                    )
            except IntegrityError:
                return None
            transaction.on_commit(
                lambda study=study, event=event: study_stable.send(
                    sender=Study, study=study, event=event
                )
            )
        return event
    return None
