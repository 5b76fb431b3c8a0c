"""Duty rosters: shift types, staff contracts, cover requirements, staff requests and leave,
roster periods with their assignments. The optimiser (appointments/rostering/) sees these only
through appointments/rosters.py, which turns them into its dataclasses and back."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clinic.models import BilingualName, Department

from .booking import Period


class ShiftType(BilingualName, models.Model):
    """A kind of shift (day, late, night, outpatient clinic...)."""

    code = models.SlugField(_("code"), max_length=10, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    start = models.TimeField(_("start"))
    minutes = models.PositiveIntegerField(_("length (minutes)"))
    cannot_follow = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="+",
        verbose_name=_("shifts that may not follow it the next day"),
    )
    night = models.BooleanField(_("night shift"), default=False)
    clinic_period = models.CharField(
        _("outpatient clinic period"),
        max_length=10,
        choices=Period.choices,
        blank=True,
        help_text=_("Set for a clinic shift: publishing creates bookable sessions from it."),
    )
    colour = models.CharField(_("colour"), max_length=7, default="#8fb3d9")

    class Meta:
        ordering = ["start", "code"]
        verbose_name = _("shift type")
        verbose_name_plural = _("shift types")
        constraints = [
            models.CheckConstraint(condition=Q(minutes__gt=0), name="shift_type_has_length")
        ]

    def __str__(self) -> str:
        return self.display_name


class StaffContract(models.Model):
    """The limits a roster respects for the staff on this contract."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    max_shifts = models.JSONField(
        _("most shifts per type"),
        default=dict,
        blank=True,
        help_text=_('Shift code → most shifts in a period, e.g. {"N": 4}; 0 forbids a type.'),
    )
    min_total_minutes = models.PositiveIntegerField(_("minimum minutes per period"), default=0)
    max_total_minutes = models.PositiveIntegerField(_("maximum minutes per period"))
    min_consecutive_shifts = models.PositiveIntegerField(_("minimum shifts in a row"), default=1)
    max_consecutive_shifts = models.PositiveIntegerField(_("maximum shifts in a row"), default=6)
    min_consecutive_days_off = models.PositiveIntegerField(
        _("minimum days off in a row"), default=1
    )
    max_weekends = models.PositiveIntegerField(_("maximum weekends worked"), default=4)

    class Meta:
        ordering = ["name"]
        verbose_name = _("staff contract")
        verbose_name_plural = _("staff contracts")
        constraints = [
            models.CheckConstraint(
                condition=Q(max_total_minutes__gte=models.F("min_total_minutes")),
                name="contract_minutes_range",
            ),
            models.CheckConstraint(
                condition=Q(max_consecutive_shifts__gte=models.F("min_consecutive_shifts")),
                name="contract_consecutive_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RosterStaff(models.Model):
    """A member of staff on a department's roster, under a contract."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roster_profile"
    )
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="roster_staff"
    )
    contract = models.ForeignKey(StaffContract, on_delete=models.PROTECT, related_name="staff")
    active = models.BooleanField(_("on the roster"), default=True)

    class Meta:
        ordering = ["department", "user__username"]
        verbose_name = _("rostered staff member")
        verbose_name_plural = _("rostered staff")

    def __str__(self) -> str:
        return f"{self.user} · {self.contract}"


class CoverRequirement(models.Model):
    """How many staff a department needs on a shift: on a weekday, or on one date."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="cover")
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), null=True, blank=True, help_text=_("0 = Monday … 6 = Sunday")
    )
    date = models.DateField(_("date"), null=True, blank=True)
    shift_type = models.ForeignKey(ShiftType, on_delete=models.CASCADE, related_name="+")
    required = models.PositiveIntegerField(_("staff needed"))
    under_weight = models.PositiveIntegerField(_("penalty per missing person"), default=100)
    over_weight = models.PositiveIntegerField(_("penalty per extra person"), default=1)

    class Meta:
        ordering = ["department", "weekday", "date"]
        verbose_name = _("cover requirement")
        verbose_name_plural = _("cover requirements")
        constraints = [
            models.CheckConstraint(
                condition=(Q(weekday__isnull=False, date__isnull=True, weekday__lte=6))
                | Q(weekday__isnull=True, date__isnull=False),
                name="cover_weekday_or_date",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.department} {self.weekday if self.date is None else self.date} "
            f"{self.shift_type.code}×{self.required}"
        )


class StaffRequest(models.Model):
    """A wish submitted by staff: a day off (hard once approved), leave (hard), or a weighted
    wish to work or not to work a shift."""

    class Kind(models.TextChoices):
        DAY_OFF = "day_off", _("Day off")
        LEAVE = "leave", _("Leave")
        SHIFT_ON = "shift_on", _("Would like to work this shift")
        SHIFT_OFF = "shift_off", _("Would rather not work this shift")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="roster_requests"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    date = models.DateField(_("date"))
    end_date = models.DateField(_("until"), null=True, blank=True)
    shift_type = models.ForeignKey(
        ShiftType, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    weight = models.PositiveIntegerField(_("importance"), default=2)
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("staff request")
        verbose_name_plural = _("staff requests")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["day_off", "leave"]) | Q(shift_type__isnull=False),
                name="shift_request_names_shift",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("date")),
                name="request_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_kind_display()} {self.date}"

    def covers(self, day) -> bool:
        return self.date <= day <= (self.end_date or self.date)


class RosterPeriod(models.Model):
    """One version of a department's roster for ``days`` days from ``start``."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SOLVING = "solving", _("Solving")
        PROPOSED = "proposed", _("Proposed")
        PUBLISHED = "published", _("Published")
        FAILED = "failed", _("No roster found")

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="rosters")
    start = models.DateField(_("first day"))
    days = models.PositiveIntegerField(_("days"), default=28)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    based_on = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="versions",
        verbose_name=_("previous version"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    objective = models.IntegerField(null=True, blank=True)
    best_bound = models.IntegerField(null=True, blank=True)
    progress = models.JSONField(default=list, blank=True)
    explanation = models.JSONField(default=list, blank=True)
    cancel_requested = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    publish_conflicts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-start", "-created_at"]
        verbose_name = _("roster")
        verbose_name_plural = _("rosters")
        constraints = [
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=62), name="roster_days")
        ]

    def __str__(self) -> str:
        return f"{self.department} {self.start} +{self.days} ({self.get_status_display()})"


class RosterAssignment(models.Model):
    """One member of staff working one shift on one day of a roster version."""

    period = models.ForeignKey(RosterPeriod, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    date = models.DateField()
    shift_type = models.ForeignKey(ShiftType, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["period", "user", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "user", "date"], name="one_shift_per_person_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.date} {self.shift_type.code}"
