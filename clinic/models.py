"""People, departments and patient records.

Clinical models follow the FHIR resources they are named after (Patient, Encounter, Condition,
AllergyIntolerance, Observation, EpisodeOfCare) so a FHIR facade can be added later.
"""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .phi import EncryptedTextField, blind_index
from .validators import (
    normalise_id_number,
    normalise_phone,
    validate_icd10,
    validate_id_number,
    validate_not_future,
    validate_phone,
)


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    DOCTOR = "doctor", _("Doctor")
    NURSE = "nurse", _("Nurse")
    SCHEDULER = "scheduler", _("Rostering manager")
    RECEPTIONIST = "receptionist", _("Receptionist")
    PATIENT = "patient", _("Patient")


class BilingualName:
    """``display_name``: the English name on English pages when there is one, else Chinese.
    For models with ``name`` (Chinese) and ``name_en`` fields."""

    @property
    def display_name(self) -> str:
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name


class Department(BilingualName, models.Model):
    """Two levels: a division (内科) and its departments (心血管内科)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent department"),
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.display_name

    def clean(self) -> None:
        if self.parent_id and self.parent.parent_id:
            raise ValidationError({"parent": _("Departments have two levels only.")})
        if self.parent_id and self.pk and self.parent_id == self.pk:
            raise ValidationError({"parent": _("A department cannot be its own parent.")})


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.PATIENT)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("department"),
    )
    full_name = models.CharField(_("full name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def display_name(self) -> str:
        return self.full_name or self.get_full_name() or self.username

    def has_role(self, *roles: str) -> bool:
        return self.is_authenticated and self.is_active and self.role in roles

    def _get_session_auth_hash(self, secret=None):
        """Sessions carry this hash and end when it changes: on a new password (Django's
        default) and also when the role changes, so a removed role takes effect at once."""
        return salted_hmac(
            "clinic.User.get_session_auth_hash",
            f"{self.password}|{self.role}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()


class PractitionerTitle(models.TextChoices):
    CHIEF = "chief", _("Chief physician")
    ASSOCIATE_CHIEF = "associate_chief", _("Associate chief physician")
    ATTENDING = "attending", _("Attending physician")
    RESIDENT = "resident", _("Resident physician")
    HEAD_NURSE = "head_nurse", _("Head nurse")
    NURSE = "nurse", _("Registered nurse")


class Practitioner(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practitioner"
    )
    title = models.CharField(_("title"), max_length=30, choices=PractitionerTitle.choices)
    specialty = models.CharField(_("specialty"), max_length=200, blank=True)
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="practitioners",
        verbose_name=_("department"),
    )
    bio = models.TextField(_("biography"), blank=True)

    class Meta:
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")

    def __str__(self) -> str:
        return f"{self.user.display_name} ({self.get_title_display()})"


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")
    UNKNOWN = "unknown", _("Unknown")


class Patient(models.Model):
    # Direct identifiers are encrypted at rest and found by exact match through their blind
    # indexes (clinic.phi; README "Encryption at rest"); they cannot be searched in part.
    ENCRYPTED_FIELDS = ("name", "phone", "id_number", "address")

    mrn = models.CharField(_("medical record number"), max_length=20, unique=True)
    name = EncryptedTextField(_("name"), max_length=100)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices)
    birth_date = models.DateField(_("birth date"), validators=[validate_not_future])
    phone = EncryptedTextField(_("phone"), max_length=20, blank=True, validators=[validate_phone])
    id_number = EncryptedTextField(
        _("resident ID-card number"), max_length=18, blank=True, validators=[validate_id_number]
    )
    address = EncryptedTextField(_("address"), max_length=300, blank=True)
    name_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, editable=False)
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=100, blank=True)
    emergency_contact_phone = models.CharField(
        _("emergency contact phone"), max_length=20, blank=True, validators=[validate_phone]
    )
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient_record",
        verbose_name=_("patient's own login"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["mrn"]
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_index"],
                condition=~Q(id_number_index=""),
                name="patient_id_number_unique",
                violation_error_message=_("A patient with this ID-card number already exists."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.mrn})"

    def save(self, *args, **kwargs):
        self._index()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and set(update_fields) & set(self.ENCRYPTED_FIELDS):
            kwargs["update_fields"] = {
                *update_fields,
                "name_index",
                "phone_index",
                "id_number_index",
            }
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.id_number = normalise_id_number(self.id_number)
        self.phone = normalise_phone(self.phone)
        self.emergency_contact_phone = normalise_phone(self.emergency_contact_phone)
        self._index()  # the uniqueness of the ID-card number is checked on its index
        from .validators import id_card_birth_date

        if self.id_number and self.birth_date:
            born = id_card_birth_date(self.id_number)
            if born and born != self.birth_date:
                raise ValidationError(
                    {"birth_date": _("The birth date does not match the ID-card number.")}
                )

    def blind_indexes(self) -> dict[str, str]:
        return {
            "name_index": blind_index("name", self.name),
            "phone_index": blind_index("phone", self.phone),
            "id_number_index": blind_index("id_number", self.id_number),
        }

    def _index(self) -> None:
        for field, digest in self.blind_indexes().items():
            setattr(self, field, digest)

    @property
    def age(self) -> int:
        today = timezone.localdate()
        b = self.birth_date
        return today.year - b.year - ((today.month, today.day) < (b.month, b.day))


class Relationship(models.TextChoices):
    CHILD = "child", _("Child")
    PARENT = "parent", _("Parent")
    SPOUSE = "spouse", _("Spouse")
    OTHER = "other", _("Other")


class Dependant(models.Model):
    """A patient whose care an account holder manages (就诊人: a child, a parent)."""

    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dependants"
    )
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="managers")
    relationship = models.CharField(_("relationship"), max_length=20, choices=Relationship.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["manager", "patient"], name="dependant_unique")
        ]

    def __str__(self) -> str:
        return f"{self.manager} → {self.patient} ({self.get_relationship_display()})"


class EpisodeOfCare(models.Model):
    """A patient under a department's care (an admission, a course of treatment)."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="episodes")
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="episodes")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("episode of care")
        verbose_name_plural = _("episodes of care")

    def __str__(self) -> str:
        return f"{self.patient} · {self.department} · {self.get_status_display()}"


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", _("Outpatient")
    INPATIENT = "inpatient", _("Inpatient")
    EMERGENCY = "emergency", _("Emergency")


class Encounter(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="encounters")
    kind = models.CharField(_("type"), max_length=20, choices=EncounterKind.choices)
    started_at = models.DateTimeField(
        _("date"), default=timezone.now, validators=[validate_not_future]
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        related_name="encounters",
        verbose_name=_("department"),
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="encounters",
        verbose_name=_("doctor"),
        limit_choices_to={"role": Role.DOCTOR},
    )
    chief_complaint = models.CharField(_("chief complaint"), max_length=300)
    present_illness = models.TextField(_("history of present illness"), blank=True)
    past_history = models.TextField(_("past history"), blank=True)
    allergy_history = models.TextField(_("allergy history"), blank=True)
    physical_exam = models.TextField(_("physical examination"), blank=True)
    lab_summary = models.TextField(_("laboratory summary"), blank=True)
    diagnosis = models.TextField(_("diagnosis"), blank=True)
    treatment_plan = models.TextField(_("treatment plan"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("encounter")
        verbose_name_plural = _("encounters")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d}"


class Condition(models.Model):
    class ClinicalStatus(models.TextChoices):
        ACTIVE = "active", _("Active")
        RESOLVED = "resolved", _("Resolved")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="conditions")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="conditions"
    )
    icd10_code = models.CharField(_("ICD-10 code"), max_length=10, validators=[validate_icd10])
    text = models.CharField(_("description"), max_length=200)
    clinical_status = models.CharField(
        _("status"), max_length=10, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE
    )
    onset_date = models.DateField(
        _("onset"), null=True, blank=True, validators=[validate_not_future]
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clinical_status", "-recorded_at"]
        verbose_name = _("condition")
        verbose_name_plural = _("conditions")

    def __str__(self) -> str:
        return f"{self.icd10_code} {self.text}"

    def clean(self) -> None:
        self.icd10_code = (self.icd10_code or "").strip().upper()
        if self.encounter_id and self.encounter.patient_id != self.patient_id:
            raise ValidationError({"encounter": _("This encounter belongs to another patient.")})


class AllergyIntolerance(models.Model):
    class Category(models.TextChoices):
        MEDICATION = "medication", _("Medication")
        FOOD = "food", _("Food")
        ENVIRONMENT = "environment", _("Environment")
        BIOLOGIC = "biologic", _("Biologic")

    class Criticality(models.TextChoices):
        LOW = "low", _("Low")
        HIGH = "high", _("High")
        UNABLE = "unable-to-assess", _("Unable to assess")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="allergies")
    substance = models.CharField(_("substance"), max_length=200)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    criticality = models.CharField(
        _("criticality"), max_length=20, choices=Criticality.choices, default=Criticality.LOW
    )
    reaction = models.CharField(_("reaction"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("allergy or intolerance")
        verbose_name_plural = _("allergies and intolerances")

    def __str__(self) -> str:
        return f"{self.substance} ({self.get_criticality_display()})"


class Observation(models.Model):
    """A vital sign or laboratory result; ``code`` is LOINC where one exists (see codes.py)."""

    class Category(models.TextChoices):
        VITAL_SIGNS = "vital-signs", _("Vital signs")
        LABORATORY = "laboratory", _("Laboratory")

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="observations")
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="observations"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    code = models.CharField(_("code"), max_length=20)
    display = models.CharField(_("name"), max_length=100)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=3)
    unit = models.CharField(_("unit"), max_length=20)
    effective_at = models.DateTimeField(
        _("time"), default=timezone.now, validators=[validate_not_future]
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_at"]
        verbose_name = _("observation")
        verbose_name_plural = _("observations")
        indexes = [models.Index(fields=["patient", "code", "effective_at"])]

    def __str__(self) -> str:
        return f"{self.display} {self.value} {self.unit}"


class BreakGlassAccess(models.Model):
    """Emergency access by a doctor without a care relation; audited and reviewed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="break_glass")
    reason = models.TextField(_("reason"))
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = _("emergency access")
        verbose_name_plural = _("emergency accesses")

    def __str__(self) -> str:
        return f"{self.user} → {self.patient} @ {self.granted_at:%Y-%m-%d %H:%M}"


class ConsentPurpose(models.TextChoices):
    """What a patient consents to, each separately (PIPL arts. 14 and 29: health information is
    sensitive and needs a separate consent)."""

    PROCESSING = "processing", _("Processing of personal and health information for care")
    AI_ANALYSIS = "ai_analysis", _("Analysis of images by AI models")


class ConsentDecision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentMethod(models.TextChoices):
    PAPER = "paper", _("In person, signed paper form")
    VERBAL = "verbal", _("In person, verbally (witnessed)")
    PHONE = "phone", _("By telephone")
    PATIENT_ACCOUNT = "patient_account", _("The patient's own account")


class PatientConsent(models.Model):
    """One decision of a patient about one purpose. The rows of a patient and purpose are its
    history; the latest (``current``) is in force. No row at all: not asked (clinic.consent)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    decision = models.CharField(_("decision"), max_length=10, choices=ConsentDecision.choices)
    method = models.CharField(_("how"), max_length=20, choices=ConsentMethod.choices)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now, db_index=True)
    current = models.BooleanField(default=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("patient consent")
        verbose_name_plural = _("patient consents")
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "purpose"],
                condition=Q(current=True),
                name="one_current_consent_per_purpose",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=ConsentPurpose.values), name="consent_purpose_known"
            ),
            models.CheckConstraint(
                condition=Q(decision__in=ConsentDecision.values), name="consent_decision_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient} · {self.purpose}: {self.decision}"

    @property
    def by_patient(self) -> bool:
        """Recorded by the patient themselves, from their own account."""
        return self.recorded_by_id is not None and self.recorded_by_id == self.patient.account_id


class AuditAction(models.TextChoices):
    VIEW = "view", _("View")
    SEARCH = "search", _("Search")
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    EXPORT = "export", _("Export")
    IMPORT = "import", _("Import")
    BREAK_GLASS = "break_glass", _("Emergency access")
    LOGIN = "login", _("Log in")
    LOGIN_FAILED = "login_failed", _("Failed log-in")
    LOGOUT = "logout", _("Log out")
    DENIED = "denied", _("Access refused")


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("audit events are append-only")

    def delete(self):
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """One access to or change of patient data, or an authentication event. Append-only."""

    at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    username = models.CharField(_("user name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=20, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=50, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    patient = models.ForeignKey(
        Patient,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("patient"),
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    flagged = models.BooleanField(_("flagged for review"), default=False)
    details = models.JSONField(default=dict, blank=True)
    # The hash chain (clinic.audit_chain): written once by clinic.audit.audit_record.
    seq = models.BigIntegerField(_("sequence number"), unique=True, editable=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, editable=False)
    hash = models.CharField(_("hash"), max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["patient", "at"]), models.Index(fields=["user", "at"])]
        constraints = [
            models.CheckConstraint(condition=Q(seq__gte=1), name="clinic_auditevent_seq_positive")
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")


class AuditChainHead(models.Model):
    """The newest link of the audit chain, in one row. Every append locks it (SELECT ... FOR
    UPDATE) until its transaction ends, so concurrent writers take turns and never give two
    events the same predecessor; ``audit_verify`` checks that no row after it is missing."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="clinic_auditchainhead_single_row")
        ]

    def __str__(self) -> str:
        return f"audit chain head {self.seq} {self.hash}"


class PatientImport(models.Model):
    """A CSV import of patients, run on a worker; ``report`` lists each row's outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    filename = models.CharField(max_length=200)
    content = models.TextField()
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    report = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"
