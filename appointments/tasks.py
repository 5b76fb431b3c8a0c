"""Periodic booking work and notification e-mails: thin tasks that call services."""

from celery import shared_task


@shared_task(name="appointments.holds_expire")
def holds_expire() -> int:
    from .services import holds_expire as expire

    return expire()


@shared_task(name="appointments.no_shows_mark")
def no_shows_mark() -> int:
    from .services import no_shows_mark as mark

    return mark()


@shared_task(name="appointments.sessions_generate")
def sessions_generate() -> int:
    from .schedule import sessions_generate as generate

    return generate()


@shared_task(
    name="appointments.notification_email_send",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notification_email_send(notification_id: int) -> bool:
    from .notifications import notification_email

    return notification_email(notification_id)


@shared_task(
    name="appointments.rostering.roster_solve",
    acks_late=True,
    time_limit=60 * 60,
    soft_time_limit=55 * 60,
)
def roster_solve(period_id: int, minimal_change: bool = False) -> str:
    """Runs on the ``scheduling`` queue (routed by name in settings)."""
    from .rosters import roster_solve_run

    return roster_solve_run(period_id, minimal_change=minimal_change)
