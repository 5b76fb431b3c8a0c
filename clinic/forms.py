from django import forms
from django.utils.translation import gettext_lazy as _

from .codes import OBSERVATION_CODES
from .models import (
    AllergyIntolerance,
    AuditAction,
    Condition,
    ConsentDecision,
    ConsentMethod,
    ConsentPurpose,
    Encounter,
    Patient,
)
from .services import ENCOUNTER_FIELDS, PATIENT_FIELDS


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value):
        if hasattr(value, "strftime"):
            from django.utils import timezone

            if timezone.is_aware(value):
                value = timezone.localtime(value)
            return value.strftime("%Y-%m-%dT%H:%M")
        return value


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        widgets = {"birth_date": DateInput()}


class EncounterForm(forms.ModelForm):
    class Meta:
        model = Encounter
        fields = list(ENCOUNTER_FIELDS)
        widgets = {
            "started_at": DateTimeInput(),
            **{
                name: forms.Textarea(attrs={"rows": 3})
                for name in (
                    "present_illness",
                    "past_history",
                    "allergy_history",
                    "physical_exam",
                    "lab_summary",
                    "diagnosis",
                    "treatment_plan",
                )
            },
        }


class ObservationForm(forms.Form):
    code = forms.ChoiceField(label=_("Measurement"))
    value = forms.DecimalField(label=_("Value"), max_digits=10, decimal_places=3)
    effective_at = forms.DateTimeField(label=_("Time"), widget=DateTimeInput(), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].choices = [
            (c.code, f"{c.display} ({c.unit})") for c in OBSERVATION_CODES.values()
        ]


class ConditionForm(forms.ModelForm):
    class Meta:
        model = Condition
        fields = ["icd10_code", "text", "clinical_status", "onset_date"]
        widgets = {"onset_date": DateInput()}


class AllergyForm(forms.ModelForm):
    class Meta:
        model = AllergyIntolerance
        fields = ["substance", "category", "criticality", "reaction"]


class BreakGlassForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for emergency access"),
        widget=forms.Textarea(attrs={"rows": 3}),
        min_length=10,
    )


class AuditSearchForm(forms.Form):
    user = forms.CharField(label=_("User"), required=False)
    patient = forms.CharField(label=_("Patient (MRN or name)"), required=False)
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", "—"), *AuditAction.choices]
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput())
    flagged = forms.BooleanField(label=_("Flagged only"), required=False)


class PatientImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    dry_run = forms.BooleanField(label=_("Dry run (check only, change nothing)"), required=False)


class ConsentForm(forms.Form):
    """Staff record what the patient decided in person."""

    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    decision = forms.ChoiceField(label=_("Decision"), choices=ConsentDecision.choices)
    method = forms.ChoiceField(
        label=_("How"),
        choices=[c for c in ConsentMethod.choices if c[0] != ConsentMethod.PATIENT_ACCOUNT],
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class MyConsentForm(forms.Form):
    """The patient's own decision, from their account: the patient comes from the session."""

    purpose = forms.ChoiceField(choices=ConsentPurpose.choices)
    decision = forms.ChoiceField(choices=ConsentDecision.choices)
