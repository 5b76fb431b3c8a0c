"""The API parses JSON, form and multipart bodies only, and a browser session must send the
CSRF token with every unsafe call."""

import pickle

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import get_resolver
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.views import APIView

from clinic.models import Patient
from clinic.phi import blind_index

from ..conftest import api_auth
from ..factories import PASSWORD, make_id_number

pytestmark = pytest.mark.django_db
ALLOWED_PARSERS = {JSONParser, FormParser, MultiPartParser}


def new_patient() -> dict:
    import datetime as dt

    return {
        "name": "陈静",
        "sex": "female",
        "birth_date": "1992-03-04",
        "phone": "13800001111",
        "id_number": make_id_number(dt.date(1992, 3, 4), 7),
    }


def api_views(patterns=None) -> list[type[APIView]]:
    found = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if hasattr(entry, "url_patterns"):
            found += api_views(entry.url_patterns)
        elif isinstance(getattr(entry.callback, "cls", None), type) and issubclass(
            entry.callback.cls, APIView
        ):
            found.append(entry.callback.cls)
    return found


def test_no_api_view_enables_another_parser():
    views = api_views()
    assert len(views) > 10
    for view in views:
        assert set(view.parser_classes) <= ALLOWED_PARSERS, view


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/xml", "<patient><name>陈静</name><sex>female</sex></patient>"),
        ("text/xml", "<patient><name>陈静</name></patient>"),
        ("application/x-python-pickle", pickle.dumps({"name": "陈静", "sex": "female"})),
        ("application/python-pickle", pickle.dumps({"name": "陈静", "sex": "female"})),
        ("application/octet-stream", pickle.dumps({"name": "陈静", "sex": "female"})),
        ("application/yaml", "name: 陈静\nsex: female\n"),
    ],
)
def test_xml_pickle_and_yaml_bodies_are_refused_with_415(api, receptionist, content_type, body):
    response = api.post(
        "/api/v1/patients/", body, content_type=content_type, **api_auth(receptionist)
    )
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert content_type in error["message"]
    assert not Patient.objects.exists()


def test_a_json_body_is_accepted(api, receptionist):
    response = api.post(
        "/api/v1/patients/", new_patient(), format="json", **api_auth(receptionist)
    )
    assert response.status_code == 201, response.json()


def session_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def test_a_session_post_without_the_csrf_token_is_refused(receptionist):
    client = session_client(receptionist)
    response = client.post("/api/v1/patients/", new_patient(), content_type="application/json")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "permission_denied"
    assert "CSRF" in error["message"]
    assert not Patient.objects.exists()


def test_a_session_post_with_a_wrong_csrf_token_is_refused(receptionist):
    client = session_client(receptionist)
    client.get("/")  # sets the CSRF cookie
    response = client.post(
        "/api/v1/patients/",
        new_patient(),
        content_type="application/json",
        HTTP_X_CSRFTOKEN="x" * 64,
    )
    assert response.status_code == 403
    assert not Patient.objects.exists()


def test_a_session_post_with_the_csrf_token_is_accepted(receptionist):
    client = session_client(receptionist)
    client.get("/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/v1/patients/",
        new_patient(),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content
    assert Patient.objects.filter(name_index=blind_index("name", "陈静")).exists()


def test_token_and_basic_clients_need_no_csrf_token(receptionist):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/patients/",
        new_patient(),
        content_type="application/json",
        **api_auth(receptionist),
    )
    assert response.status_code == 201, response.content
