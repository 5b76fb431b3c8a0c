"""Booking: sites and their QR codes, doctors' clinic sessions and slots, appointments, the
check-in queue, ratings, notifications and the phone one-time codes patients identify with.

Appointment statuses are FHIR AppointmentStatus codes, so a FHIR facade is a thin layer.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import BilingualName, Department, Encounter, Patient, Practitioner


class Site(BilingualName, models.Model):
    """A place with a QR code: a campus, a clinic, a department entrance or a check-in kiosk."""

    class Kind(models.TextChoices):
        CAMPUS = "campus", _("Campus")
        CLINIC = "clinic", _("Clinic")
        DEPARTMENT_ENTRANCE = "department_entrance", _("Department entrance")
        KIOSK = "kiosk", _("Check-in kiosk")

    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("department"),
        help_text=_("Leave empty for a site that serves every department."),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.display_name


class SiteCode(models.Model):
    """A QR code printed for a site. The URL carries a signed random key, never patient data;
    a revoked code stops working at once."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="codes")
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("department"),
    )
    key = models.CharField(max_length=32, unique=True)
    label = models.CharField(_("label"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("site QR code")
        verbose_name_plural = _("site QR codes")

    def __str__(self) -> str:
        return f"{self.site} · {self.label or self.key[:6]}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class BookingPolicy(models.Model):
    """How a department takes bookings. Departments without a row use the defaults."""

    department = models.OneToOneField(
        Department, on_delete=models.CASCADE, related_name="booking_policy"
    )
    auto_confirm = models.BooleanField(
        _("confirm bookings at once"),
        default=False,
        help_text=_("Otherwise each request waits for the doctor's confirmation."),
    )
    hold_minutes = models.PositiveIntegerField(_("minutes a request holds its slot"), default=120)
    close_minutes_before = models.PositiveIntegerField(
        _("booking closes minutes before the session"), default=30
    )
    no_show_grace_minutes = models.PositiveIntegerField(_("no-show grace minutes"), default=30)

    class Meta:
        verbose_name = _("booking policy")
        verbose_name_plural = _("booking policies")

    def __str__(self) -> str:
        return str(self.department)


class ComplaintCategory(BilingualName, models.Model):
    """What brings the patient (胸痛, 骨折复查...); matched to doctors' specialties."""

    department = models.ForeignKey(
        Department, on_delete=models.CASCADE, related_name="complaint_categories"
    )
    name = models.CharField(_("name (Chinese)"), max_length=60)
    name_en = models.CharField(_("name (English)"), max_length=60, blank=True)
    specialty_keywords = models.CharField(
        _("specialty keywords"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated words matched against doctors' specialties."),
    )

    class Meta:
        ordering = ["department", "name"]
        verbose_name = _("complaint category")
        verbose_name_plural = _("complaint categories")

    def __str__(self) -> str:
        return self.display_name

    @property
    def keywords(self) -> list[str]:
        return [w.strip() for w in self.specialty_keywords.split(",") if w.strip()]


class Period(models.TextChoices):
    MORNING = "am", _("Morning")
    AFTERNOON = "pm", _("Afternoon")
    EVENING = "evening", _("Evening")


class SessionMode(models.TextChoices):
    QUOTA = "quota", _("Number quota")
    TIMED = "timed", _("Timed slots")


class SessionTemplate(models.Model):
    """A doctor's weekly clinic session (every Tuesday morning ...), from which sessions are
    generated until rosters publish them."""

    doctor = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="session_templates"
    )
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(_("weekday"), help_text=_("0 = Monday … 6 = Sunday"))
    period = models.CharField(_("period"), max_length=10, choices=Period.choices)
    start_time = models.TimeField(_("start"))
    end_time = models.TimeField(_("end"))
    mode = models.CharField(_("mode"), max_length=10, choices=SessionMode.choices)
    quota = models.PositiveIntegerField(_("number quota"), default=0)
    slot_minutes = models.PositiveIntegerField(_("slot length (minutes)"), default=15)
    fee = models.DecimalField(_("registration fee"), max_digits=8, decimal_places=2, default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["doctor", "weekday", "start_time"]
        verbose_name = _("weekly session template")
        verbose_name_plural = _("weekly session templates")
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="template_weekday_range"),
            models.CheckConstraint(
                condition=Q(end_time__gt=models.F("start_time")), name="template_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.doctor} · {self.weekday} {self.get_period_display()}"


class ClinicSession(models.Model):
    """One doctor's clinic on one date and period (出诊), with its slots."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CANCELLED = "cancelled", _("Cancelled")

    doctor = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="sessions")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="sessions")
    date = models.DateField(_("date"))
    period = models.CharField(_("period"), max_length=10, choices=Period.choices)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    mode = models.CharField(_("mode"), max_length=10, choices=SessionMode.choices)
    fee = models.DecimalField(_("registration fee"), max_digits=8, decimal_places=2, default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    template = models.ForeignKey(
        SessionTemplate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    roster = models.ForeignKey(
        "appointments.RosterPeriod",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        help_text=_("The published roster this session comes from."),
    )

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("clinic session")
        verbose_name_plural = _("clinic sessions")
        constraints = [
            models.UniqueConstraint(fields=["doctor", "starts_at"], name="session_once_per_start"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["department", "date"])]

    def __str__(self) -> str:
        return f"{self.doctor.user.display_name} {self.date} {self.get_period_display()}"


class Slot(models.Model):
    """One bookable number (号) of a session. In quota mode ``starts_at`` is the suggested
    arrival time the slotting optimiser chose; in timed mode the fixed slot start."""

    class Status(models.TextChoices):
        FREE = "free", _("Free")
        HELD = "held", _("Held")
        BOOKED = "booked", _("Booked")
        BLOCKED = "blocked", _("Blocked")

    session = models.ForeignKey(ClinicSession, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField(_("number"))
    starts_at = models.DateTimeField(_("time"))
    minutes = models.PositiveIntegerField(_("minutes"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.FREE)
    held_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["session", "number"]
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        constraints = [
            models.UniqueConstraint(fields=["session", "number"], name="slot_number_unique"),
            models.CheckConstraint(
                condition=~Q(status="held") | Q(held_until__isnull=False),
                name="slot_held_has_expiry",
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.session} #{self.number}"


class AppointmentStatus(models.TextChoices):
    """FHIR R4 AppointmentStatus codes, as stored."""

    PROPOSED = "proposed", _("Another time proposed")
    PENDING = "pending", _("Awaiting the doctor")
    BOOKED = "booked", _("Confirmed")
    ARRIVED = "arrived", _("Checked in, waiting")
    CHECKED_IN = "checked-in", _("In consultation")
    FULFILLED = "fulfilled", _("Seen")
    CANCELLED = "cancelled", _("Cancelled")
    NOSHOW = "noshow", _("Did not attend")
    WAITLIST = "waitlist", _("On the waiting list")


# An appointment in one of these statuses occupies its slot.
ACTIVE_STATUSES = (
    AppointmentStatus.PROPOSED,
    AppointmentStatus.PENDING,
    AppointmentStatus.BOOKED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.CHECKED_IN,
)


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Paid")
    WAIVED = "waived", _("Waived")


class Appointment(models.Model):
    """A patient's booking of a slot, or a walk-in's place in a session's queue."""

    session = models.ForeignKey(
        ClinicSession, on_delete=models.PROTECT, related_name="appointments"
    )
    slot = models.ForeignKey(
        Slot, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bookings"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=AppointmentStatus.choices, db_index=True
    )
    complaint_category = models.ForeignKey(
        ComplaintCategory, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    complaint = models.CharField(_("reason for the visit"), max_length=300, blank=True)
    walk_in = models.BooleanField(_("walk-in"), default=False)
    idempotency_key = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_ip = models.GenericIPAddressField(null=True, blank=True)
    held_until = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("reason"), max_length=300, blank=True)
    arrived_at = models.DateTimeField(_("checked in"), null=True, blank=True)
    queue_number = models.PositiveIntegerField(_("queue number"), null=True, blank=True)
    called_at = models.DateTimeField(_("called"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    encounter = models.ForeignKey(
        Encounter, on_delete=models.SET_NULL, null=True, blank=True, related_name="appointments"
    )
    payment_status = models.CharField(
        _("payment"), max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        constraints = [
            # One booking per slot: the database refuses a second active appointment.
            models.UniqueConstraint(
                fields=["slot"],
                condition=Q(status__in=[s.value for s in ACTIVE_STATUSES]),
                name="one_active_appointment_per_slot",
            ),
            # One patient, one place in a session.
            models.UniqueConstraint(
                fields=["patient", "session"],
                condition=Q(status__in=[s.value for s in ACTIVE_STATUSES]),
                name="one_active_appointment_per_patient_session",
            ),
            # A double tap on "book" makes one appointment.
            models.UniqueConstraint(
                fields=["booked_by", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="appointment_idempotency_key",
            ),
            models.UniqueConstraint(
                fields=["session", "queue_number"],
                condition=Q(queue_number__isnull=False),
                name="queue_number_unique_per_session",
            ),
        ]
        indexes = [models.Index(fields=["session", "status"])]

    def __str__(self) -> str:
        return f"{self.patient} · {self.session} · {self.status}"

    @property
    def starts_at(self):
        return self.slot.starts_at if self.slot_id else self.session.starts_at

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Rating(models.Model):
    """The patient's rating of a visit: once per appointment."""

    appointment = models.OneToOneField(Appointment, on_delete=models.CASCADE, related_name="rating")
    doctor = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="ratings")
    stars = models.PositiveSmallIntegerField(_("stars"))
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        constraints = [
            models.CheckConstraint(
                condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.doctor} {self.stars}★"


class Notification(models.Model):
    """An in-app message to a user (a new booking request, a decision on one)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.text


class PhoneCode(models.Model):
    """A one-time code sent by SMS. Only a keyed hash of the code is stored."""

    phone = models.CharField(max_length=20, db_index=True)
    code_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]} @ {self.created_at:%H:%M}"
