"""Patients' direct identifiers at rest: name, phone, ID-card number and address are ciphertext in
the database, plain in the app; exact-match search goes through the blind index; keys rotate
without losing a row; a missing key fails loudly instead of showing garbage."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.utils import NotSupportedError
from django.urls import reverse

from clinic import phi
from clinic.models import AuditEvent, Patient
from clinic.selectors import patient_search

pytestmark = pytest.mark.django_db

FIELDS = ("name", "phone", "id_number", "address")


def raw_row(patient) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(FIELDS)}, name_index FROM clinic_patient WHERE id = %s",
            [patient.pk],
        )
        return dict(zip((*FIELDS, "name_index"), cursor.fetchone(), strict=True))


@pytest.fixture
def keyed(settings):
    settings.PHI_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    settings.PHI_BLIND_INDEX_KEY = "a-long-random-index-key-for-tests"
    return settings


@pytest.fixture
def zhang(keyed, owner, cardiology):
    from tests.factories import PatientFactory

    return PatientFactory(
        name="张伟",
        phone="13800138000",
        id_number="11010519491231002X",
        address="北京市朝阳区建国路1号",
    )


def test_identifiers_are_ciphertext_in_the_database_and_plain_in_the_app(zhang):
    row = raw_row(zhang)
    for field in FIELDS:
        assert row[field].startswith("phi1:"), field
        assert getattr(zhang, field) not in row[field]
    again = Patient.objects.get(pk=zhang.pk)
    assert (again.name, again.phone, again.id_number, again.address) == (
        "张伟",
        "13800138000",
        "11010519491231002X",
        "北京市朝阳区建国路1号",
    )
    # The same name twice is two different ciphertexts (fresh IV), one blind index.
    from tests.factories import PatientFactory

    twin = PatientFactory(name="张伟")
    assert raw_row(twin)["name"] != raw_row(zhang)["name"]
    assert raw_row(twin)["name_index"] == raw_row(zhang)["name_index"]


@pytest.mark.parametrize(
    "query", ["张伟", " 张伟 ", "13800138000", "+86 138 0013 8000", "11010519491231002x"]
)
def test_exact_name_phone_or_id_number_finds_the_patient(zhang, admin_user, query):
    assert list(patient_search(user=admin_user, query=query)) == [zhang]


@pytest.mark.parametrize("query", ["张", "1380013", "北京市"])
def test_a_part_of_an_encrypted_value_finds_nothing(zhang, admin_user, query):
    assert list(patient_search(user=admin_user, query=query)) == []


def test_a_search_inside_an_encrypted_field_is_refused_loudly(zhang):
    with pytest.raises(NotSupportedError, match="blind index"):
        list(Patient.objects.filter(name__icontains="张"))


def test_the_api_finds_by_exact_phone_and_the_mrn_still_works(zhang, api, admin_user):
    from tests.conftest import api_auth

    url = reverse("api-patients")
    by_phone = api.get(url, {"phone": "13800138000"}, **api_auth(admin_user)).json()
    assert [p["mrn"] for p in by_phone["results"]] == [zhang.mrn]
    by_q = api.get(url, {"q": zhang.mrn}, **api_auth(admin_user)).json()
    assert [p["name"] for p in by_q["results"]] == ["张伟"]


def test_keys_rotate_without_losing_a_row(zhang, keyed):
    old = keyed.PHI_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    before = raw_row(zhang)
    # The new key first, the old one still listed: everything reads, new writes use the new key.
    keyed.PHI_ENCRYPTION_KEYS = [new, old]
    assert Patient.objects.get(pk=zhang.pk).name == "张伟"
    call_command("rotate_phi_keys")
    after = raw_row(zhang)
    assert all(after[f] != before[f] for f in FIELDS)
    # Only the new key now: still readable; the old key alone no longer is.
    keyed.PHI_ENCRYPTION_KEYS = [new]
    assert Patient.objects.get(pk=zhang.pk).id_number == "11010519491231002X"
    keyed.PHI_ENCRYPTION_KEYS = [old]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        Patient.objects.get(pk=zhang.pk)
    keyed.PHI_ENCRYPTION_KEYS = [new]
    assert AuditEvent.objects.filter(details__event="phi_keys_rotated").exists()


def test_a_new_blind_index_key_takes_effect_after_the_rotation(zhang, keyed, admin_user):
    keyed.PHI_BLIND_INDEX_KEY = "another-index-key"
    assert list(patient_search(user=admin_user, query="张伟")) == []
    call_command("rotate_phi_keys")
    assert list(patient_search(user=admin_user, query="张伟")) == [zhang]


def test_a_malformed_key_fails_loudly(settings):
    settings.PHI_ENCRYPTION_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="Fernet"):
        phi.encrypt("张伟")


def test_legacy_plaintext_reads_as_is_and_is_encrypted_when_written(zhang):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE clinic_patient SET address = %s WHERE id = %s", ["旧地址", zhang.pk])
    patient = Patient.objects.get(pk=zhang.pk)
    assert patient.address == "旧地址"
    patient.save()
    assert raw_row(patient)["address"].startswith("phi1:")
