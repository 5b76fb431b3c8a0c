"""A doctor logs in, finds a patient, opens the chart and adds an encounter — in Chinese, then
in English after switching the language."""

import pytest

from clinic.models import Encounter

from .conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def add_encounter(page, complaint, diagnosis):
    page.fill("#id_chief_complaint", complaint)
    page.fill("#id_diagnosis", diagnosis)
    page.select_option("#id_kind", "outpatient")
    page.click("form.form button[type=submit]")


def test_a_doctor_searches_opens_a_chart_and_adds_an_encounter_in_chinese(page, owner, patient):
    log_in(page, owner, start="/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.fill("#q", "张伟")
    page.press("#q", "Enter")
    page.click(f"text={patient.name}")
    assert page.locator("[data-testid=patient-name]").inner_text() == "张伟"

    page.click("text=新建就诊")
    add_encounter(page, "活动后气促两周", "慢性心力衰竭")

    page.wait_for_selector("text=活动后气促两周")
    assert Encounter.objects.filter(patient=patient, chief_complaint="活动后气促两周").exists()
    assert page.locator("[data-testid=encounter]").count() == 2


def test_the_same_flow_works_after_switching_to_english(page, owner, patient):
    log_in(page, owner, start="/")
    with page.expect_navigation():
        page.select_option("#language", "en")
    assert page.locator("html").get_attribute("lang") == "en"
    page.fill("#q", patient.mrn)
    page.press("#q", "Enter")
    page.click(f"text={patient.name}")
    page.click("text=New encounter")
    add_encounter(page, "Chest pain on exertion", "Stable angina")
    page.wait_for_selector("text=Chest pain on exertion")
    assert page.locator("h2", has_text="Encounters").count() == 1


def test_an_outsider_sees_no_chart_in_the_browser(page, outsider, patient):
    log_in(page, outsider, start="/")
    response = page.goto(f"/patients/{patient.pk}/")
    assert response.status == 404
    assert patient.name not in page.content()
