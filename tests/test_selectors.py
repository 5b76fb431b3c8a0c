import datetime as dt

import pytest
from django.utils import timezone

from clinic import selectors
from clinic.models import Observation

from .factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_vitals_chart_plots_each_vital_on_a_shared_time_axis(owner):
    patient = PatientFactory()
    now = timezone.now()
    for days, (hr, temp) in enumerate([(70, 36.5), (90, 38.2), (80, 37.0)]):
        at = now - dt.timedelta(days=3 - days)
        for code, value in (("8867-4", hr), ("8310-5", temp)):
            Observation.objects.create(
                patient=patient,
                category="vital-signs",
                code=code,
                display=code,
                value=value,
                unit="x",
                effective_at=at,
                recorded_by=owner,
            )
    series = {s.code: s for s in selectors.patient_vitals(patient=patient)}

    assert set(series) == {"8867-4", "8310-5"}
    heart = series["8867-4"]
    assert [v for _, v in heart.points] == [70, 90, 80]
    xs = [float(x) for x, *_ in heart.dots]
    ys = [float(y) for _, y, *_ in heart.dots]
    assert xs == [0.0, 300.0, 600.0]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards: the highest value is nearest the top
    assert series["8310-5"].unit == "°C"


def test_the_vitals_chart_shows_the_most_recent_measurements(owner, monkeypatch):
    monkeypatch.setattr(selectors, "CHART_MAX_POINTS", 3)
    patient = PatientFactory()
    now = timezone.now()
    for days in range(6):
        Observation.objects.create(
            patient=patient,
            category="vital-signs",
            code="8867-4",
            display="HR",
            value=60 + days,
            unit="/min",
            effective_at=now - dt.timedelta(days=6 - days),
            recorded_by=owner,
        )
    (heart,) = selectors.patient_vitals(patient=patient)
    assert [v for _, v in heart.points] == [63, 64, 65]


def test_a_receptionist_gets_no_list_without_a_query(receptionist, patient):
    assert list(selectors.patient_search(user=receptionist, query="")) == []
    assert list(selectors.patient_search(user=receptionist, query=patient.mrn)) == [patient]
