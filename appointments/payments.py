"""Payment of the registration fee, behind one interface.

A ``PaymentProvider`` records how an appointment's fee is settled. The only provider shipped
is ``DeskPaymentProvider``: the patient pays at the cashier's desk and a receptionist marks the
appointment paid. An online provider (WeChat Pay, Alipay, UnionPay) implements the same three
methods against its gateway and is named in ``PAYMENT_PROVIDER``; nothing here pretends to be
one.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class PaymentResult:
    paid: bool
    reference: str = ""


class PaymentProvider:
    """Interface: each method receives an Appointment and returns a PaymentResult."""

    #: Patients can pay themselves in the booking pages (an online gateway).
    online = False

    def start(self, appointment) -> PaymentResult:
        """Begin paying (e.g. create a gateway order); may return paid=True at once."""
        raise NotImplementedError

    def confirm(self, appointment, *, reference: str) -> PaymentResult:
        """Record the payment identified by ``reference`` (a receipt or gateway number)."""
        raise NotImplementedError

    def refund(self, appointment) -> PaymentResult:
        raise NotImplementedError


class DeskPaymentProvider(PaymentProvider):
    """Paid in person at the desk; the receipt number is the reference."""

    def start(self, appointment) -> PaymentResult:
        return PaymentResult(paid=False)

    def confirm(self, appointment, *, reference: str) -> PaymentResult:
        return PaymentResult(paid=True, reference=reference)

    def refund(self, appointment) -> PaymentResult:
        return PaymentResult(paid=False, reference=appointment.payment_reference)


def payment_provider() -> PaymentProvider:
    return import_string(settings.PAYMENT_PROVIDER)()
