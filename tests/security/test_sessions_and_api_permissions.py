"""Sessions end when access changes; every API view declares who may use it."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from clinic.models import Role

pytestmark = pytest.mark.django_db

# API views open to anyone, with the reason.
PUBLIC_API_VIEWS = {
    "config.api.ErrorCatalogueView": "the list of error codes, no data",
    "clinic.api_token.ObtainTokenView": "sign-in itself: a password (and a code) for a token",
}


def _api_views(patterns=None):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from _api_views(p.url_patterns)
        elif isinstance(p, URLPattern):
            cls = getattr(p.callback, "view_class", None) or getattr(p.callback, "cls", None)
            if cls is not None and issubclass(cls, APIView):
                yield p, cls


def _declares_permissions(cls) -> bool:
    """Some class of ours (not only DRF's default) states ``permission_classes``."""
    return any(
        "permission_classes" in vars(klass) and not klass.__module__.startswith("rest_framework")
        for klass in cls.__mro__
    )


def test_every_api_view_declares_its_permission_classes():
    missing, open_to_all = [], []
    for _pattern, cls in _api_views():
        name = f"{cls.__module__}.{cls.__qualname__}"
        ours = not cls.__module__.startswith(("drf_spectacular", "rest_framework"))
        if ours and not _declares_permissions(cls):
            missing.append(name)
        permissions = cls.permission_classes
        if any(p is AllowAny for p in permissions) and name not in PUBLIC_API_VIEWS:
            open_to_all.append(name)
    assert missing == []
    assert open_to_all == []


def test_the_schema_is_for_signed_in_users(client, client_as, owner):
    assert client.get("/api/schema/").status_code in (401, 403)
    assert client_as(owner).get("/api/schema/").status_code == 200


def test_a_changed_role_ends_the_users_sessions(client_as, owner):
    client = client_as(owner)
    assert client.get(reverse("home")).status_code == 200
    owner.role = Role.NURSE
    owner.save(update_fields=["role"])
    response = client.get(reverse("home"))
    assert response.status_code == 302 and reverse("login") in response.url


def test_a_disabled_account_and_a_new_password_end_sessions(client_as, owner, colleague):
    client = client_as(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert client.get(reverse("home")).status_code == 302
    client = client_as(colleague)
    colleague.set_password("another-secret-77")
    colleague.save(update_fields=["password"])
    assert client.get(reverse("home")).status_code == 302


def test_the_check_tells_a_declared_view_from_one_left_on_the_default():
    class Declared(APIView):
        permission_classes = []

    class Undeclared(APIView):
        pass

    assert _declares_permissions(Declared) and not _declares_permissions(Undeclared)
