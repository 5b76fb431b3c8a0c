"""Observation codes offered in forms and the API: LOINC for vitals and common labs."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class ObservationCode:
    code: str
    display: object
    unit: str
    category: str
    low: float  # plausible range: values outside are refused as typing errors
    high: float

    @property
    def label_unit(self) -> str:
        """The unit as people write it (the stored ``unit`` is UCUM)."""
        return _UNIT_LABELS.get(self.unit, self.unit)


_UNIT_LABELS = {"Cel": "°C", "10*9/L": "×10⁹/L", "umol/L": "μmol/L"}


OBSERVATION_CODES: dict[str, ObservationCode] = {
    c.code: c
    for c in [
        ObservationCode("8480-6", _("Systolic blood pressure"), "mmHg", "vital-signs", 40, 300),
        ObservationCode("8462-4", _("Diastolic blood pressure"), "mmHg", "vital-signs", 20, 200),
        ObservationCode("8867-4", _("Heart rate"), "/min", "vital-signs", 20, 300),
        ObservationCode("9279-1", _("Respiratory rate"), "/min", "vital-signs", 4, 80),
        ObservationCode("8310-5", _("Body temperature"), "Cel", "vital-signs", 30, 45),
        ObservationCode("59408-5", _("Oxygen saturation"), "%", "vital-signs", 50, 100),
        ObservationCode("29463-7", _("Body weight"), "kg", "vital-signs", 0.3, 400),
        ObservationCode("8302-2", _("Body height"), "cm", "vital-signs", 20, 250),
        ObservationCode("15074-8", _("Blood glucose"), "mmol/L", "laboratory", 0.5, 50),
        ObservationCode("718-7", _("Haemoglobin"), "g/L", "laboratory", 20, 250),
        ObservationCode("6690-2", _("White blood cell count"), "10*9/L", "laboratory", 0.1, 200),
        ObservationCode("2160-0", _("Creatinine"), "umol/L", "laboratory", 10, 2000),
        ObservationCode("4548-4", _("Haemoglobin A1c"), "%", "laboratory", 3, 20),
    ]
}

VITAL_CHART_CODES = ("8480-6", "8462-4", "8867-4", "8310-5")
