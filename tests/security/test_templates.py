"""The Content-Security-Policy allows scripts only from our own files, so no template may hold
an inline script, an inline event handler or a javascript: URL: they would silently stop
working in the browser. Behaviours are data- attributes read by static/js/page.js."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

# An on*= attribute inside a tag (the tag may span lines).
EVENT_HANDLER = re.compile(r"<[a-zA-Z][^<>]*?\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript\s*:", re.IGNORECASE)
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
DATA_SCRIPT = re.compile(r"""type\s*=\s*["']application/(ld\+)?json["']""", re.IGNORECASE)


def inline_code(text: str) -> list[str]:
    """What in ``text`` would be inline script code: the offending snippets."""
    found = [m.group(0) for m in EVENT_HANDLER.finditer(text)]
    found += [m.group(0) for m in JAVASCRIPT_URL.finditer(text)]
    for m in SCRIPT.finditer(text):
        attributes, body = m.group(1), m.group(2)
        if "src=" in attributes.replace(" ", "").lower():
            if body.strip():
                found.append(m.group(0))  # a browser ignores the body; a mistake all the same
        elif body.strip() and not DATA_SCRIPT.search(attributes):
            found.append(m.group(0))
    return found


def project_templates() -> list[Path]:
    """Every template of this project: the shared directory and each local app's."""
    base = Path(settings.BASE_DIR)
    roots = [Path(d) for t in settings.TEMPLATES for d in t["DIRS"]]
    roots += [
        Path(app.path) / "templates"
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(base) and ".venv" not in Path(app.path).parts
    ]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.html"))


def test_the_project_has_templates_to_check():
    names = {p.relative_to(settings.BASE_DIR).as_posix() for p in project_templates()}
    assert "templates/base.html" in names
    assert "appointments/templates/appointments/booking/base.html" in names
    assert "appointments/templates/appointments/decide.html" in names
    assert "imaging/templates/imaging/study_upload.html" in names


@pytest.mark.parametrize(
    "path", project_templates(), ids=lambda p: p.relative_to(settings.BASE_DIR).as_posix()
)
def test_no_template_holds_inline_script(path):
    assert inline_code(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        '<select name="language" onchange="this.form.submit()">',
        "<button\n  class=\"link\" onclick='window.print()'>",
        "<body onload=init()>",
        "<script>document.title = 1</script>",
        '<script type="text/javascript">\n  go();\n</script>',
        '<a href="javascript:void(0)">',
    ],
)
def test_the_check_finds_inline_script(snippet):
    assert inline_code(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script src=\"{% static 'js/page.js' %}\" defer></script>",
        '<script type="application/json" id="data">{"a": 1}</script>',
        '<select id="language" name="language" data-autosubmit>',
        '<p>{% translate "Turn the alarm on=off" %}</p>',
        '<td class="cell" style="background:#fff">',
    ],
)
def test_the_check_lets_external_scripts_and_data_through(snippet):
    assert inline_code(snippet) == []
