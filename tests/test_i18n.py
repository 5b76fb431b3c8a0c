import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def catalogue(path: Path):
    with open(path, "rb") as f:
        return read_po(f)


def test_every_marked_string_has_a_chinese_translation():
    missing = [
        m.id
        for m in catalogue(PO)
        if m.id and (not m.string or m.fuzzy or (isinstance(m.string, tuple) and not all(m.string)))
    ]
    assert missing == []


def test_the_catalogue_is_up_to_date_with_the_code(tmp_path):
    """makemessages on a copy of the tree finds no string the committed .po lacks."""
    if not shutil.which("xgettext"):
        pytest.fail("GNU gettext is needed (apt-get install gettext); .ci/run installs it")
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "var", ".git", "node_modules", "__pycache__", "*.mo", "tests"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--ignore=var",
            "--ignore=tests",
            "-v",
            "0",
        ],
        cwd=copy,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "AIMASS_VAR_DIR": str(tmp_path / "var"),
            "PYTHONPATH": str(copy),
        },
    )
    fresh = {m.id for m in catalogue(copy / "locale/zh_Hans/LC_MESSAGES/django.po") if m.id}
    committed = {m.id for m in catalogue(PO) if m.id}
    assert sorted(map(str, fresh - committed)) == []


@pytest.mark.django_db
def test_pages_are_chinese_by_default(client):
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="zh-hans">' in page
    assert "用户名" in page


@pytest.mark.django_db
def test_the_language_switcher_changes_the_language_for_the_session(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert '<html lang="en">' in page
    assert "User name" in page


@pytest.mark.django_db
def test_the_browser_language_is_honoured(client):
    page = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en">' in page
