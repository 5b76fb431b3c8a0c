"""In-app notifications, with an e-mail copy (Django's EMAIL_BACKEND) sent by a worker."""

from django.db import transaction

from .models import Notification


def notify(*, user, text: str, url: str = "") -> Notification:
    """Tell ``user`` something; the e-mail copy goes out after the transaction commits."""
    note = Notification.objects.create(user=user, text=str(text)[:300], url=url)
    if user.email:
        from .tasks import notification_email_send

        transaction.on_commit(lambda: notification_email_send.delay(note.pk))
    return note


def notification_email(notification_id: int) -> bool:
    from django.conf import settings
    from django.core.mail import send_mail

    note = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if note is None or not note.user.email:
        return False
    body = note.text + (f"\n\n{settings.SITE_URL}{note.url}" if note.url else "")
    send_mail("AI Mass", body, None, [note.user.email])
    return True
