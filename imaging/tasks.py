from celery import shared_task

from . import stability


@shared_task(
    name="imaging.tasks.study_stability_check", acks_late=True, ignore_result=True,
    soft_time_limit=60, time_limit=90,
)
def study_stability_check(study_id: int) -> None:
    stability.study_stability_check(study_id=study_id)
