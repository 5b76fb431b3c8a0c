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
