"""Ordering, filter and search parameters fuzzed (the CVE-2026-24908 pattern: a sort key or
filter the server did not mean to offer, used to read what it should not). Every list and search
endpoint answers hostile values with 200 or 400 — never a server error — and a sort key outside
the offered ones (a password hash, a related patient's field) changes nothing."""

import pytest
from django.urls import reverse

from tests.factories import PatientFactory

from ..conftest import api_auth

pytestmark = pytest.mark.django_db

HOSTILE = [
    "",
    "-",
    "name;DROP TABLE clinic_patient",
    "' OR 1=1 --",
    "account__password",
    "-account__password",
    "account__password,name",
    "encounters__diagnosis",
    "__class__",
    "name" * 200,
    "姓名<script>alert(1)</script>",
    "\x00",
    "%00",
    "1e309",
    "-1",
    "99999999999999999999999",
    "2026-13-45",
    "*",
    "?",
    "\\",
    "a" * 5000,
]

# (route name or path, the parameters to fuzz), each GET with a user who may list.
API_LISTS = [
    ("api-patients", ["ordering", "search", "name", "mrn", "birth_date", "page", "page_size"]),
    ("api-departments", ["parent", "page"]),
    ("api-audit-events", ["action", "user", "patient", "since", "until", "page"]),
    ("api-ai-models", ["ordering", "page"]),
]
PAGES = [
    ("clinic:patient_search", ["q", "page"]),
    ("clinic:audit_search", ["user", "patient", "action", "since", "until", "flagged", "page"]),
    ("imaging:study_list", ["q", "modality", "date_from", "date_to", "page", "unmatched"]),
    ("imaging:worklist", ["scope", "ai_status", "review_status", "modality", "q", "page"]),
    ("imaging:worklist_status", ["ids"]),
]
DICOMWEB = [
    ("/dicomweb/studies", ["PatientName", "StudyDate", "limit", "offset", "includefield"]),
    ("/dicomweb/series", ["Modality", "SeriesNumber", "limit", "fuzzymatching"]),
]


@pytest.fixture
def patients(owner):
    return [PatientFactory() for _ in range(3)]


def _fuzz(get, url, params) -> list[str]:
    problems = []
    for param in params:
        # A page that does not exist is 404 in DRF's paginator: an answer, not an error.
        allowed = (200, 400, 404) if param == "page" else (200, 400)
        for value in HOSTILE:
            response = get(url, {param: value})
            if response.status_code not in allowed:
                problems.append(f"{url}?{param}={value[:30]!r} -> {response.status_code}")
    return problems


def test_the_api_lists_answer_hostile_parameters_without_error(api, admin_user, patients):
    problems = []
    for name, params in API_LISTS:
        url = reverse(name)
        problems += _fuzz(lambda u, p: api.get(u, p, **api_auth(admin_user)), url, params)
    assert problems == []


def test_the_pages_answer_hostile_parameters_without_error(client_as, admin_user, patients):
    client = client_as(admin_user)
    problems = []
    for name, params in PAGES:
        problems += _fuzz(client.get, reverse(name), params)
    assert problems == []


def test_dicomweb_searches_answer_hostile_parameters_without_error(api, admin_user):
    problems = []
    for url, params in DICOMWEB:
        problems += _fuzz(lambda u, p: api.get(u, p, **api_auth(admin_user)), url, params)
    assert problems == []


@pytest.mark.parametrize(
    "key", ["account__password", "-account__password", "id_number", "phone", "address"]
)
def test_an_unoffered_sort_key_is_ignored(api, admin_user, patients, key):
    url = reverse("api-patients")
    auth = api_auth(admin_user)
    plain = [row["id"] for row in api.get(url, **auth).json()["results"]]
    sorted_by = [row["id"] for row in api.get(url, {"ordering": key}, **auth).json()["results"]]
    assert sorted_by == plain
