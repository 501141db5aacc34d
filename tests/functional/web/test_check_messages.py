"""`ampere check_messages` fails, naming file and line, on a string missing from a catalogue
and on untranslated, fuzzy or mismatched entries; and leaves the checked catalogues as they
were."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

HEADER = """msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

"""


def package(tmp_path: Path, catalogues: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    (root / "templates").mkdir(parents=True)
    (root / "mod.py").write_text(
        "from ampere.core.i18n import _\n\nGREETING = _('Good day')\nASKED = _('Hello {name}')\n"
    )
    (root / "templates" / "page.html").write_text(
        '{% load i18n %}\n<p>{% translate "Sign in" %}</p>\n'
    )
    for language in ("vi", "en", "es"):
        folder = root / "locale" / language / "LC_MESSAGES"
        folder.mkdir(parents=True)
        (folder / "django.po").write_text(HEADER + catalogues.get(language, ""))
    return root


COMPLETE = {
    "vi": 'msgid "Good day"\nmsgstr "Chào"\n\nmsgid "Hello {name}"\nmsgstr "Xin chào {name}"\n\n'
    'msgid "Sign in"\nmsgstr "Đăng nhập"\n',
    "en": 'msgid "Good day"\nmsgstr "Good day"\n\nmsgid "Hello {name}"\nmsgstr "Hello {name}"\n\n'
    'msgid "Sign in"\nmsgstr "Sign in"\n',
    "es": 'msgid "Good day"\nmsgstr "Buenos días"\n\nmsgid "Hello {name}"\n'
    'msgstr "Hola {name}"\n\nmsgid "Sign in"\nmsgstr "Iniciar sesión"\n',
}


def check(root: Path) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_messages", source=str(root), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_complete_catalogues_pass(tmp_path):
    root = package(tmp_path, COMPLETE)
    before = {p: p.read_text() for p in root.rglob("*.po")}
    out, err = check(root)
    assert (out, err) == ("Catalogues complete: vi, en, es.\n", "")
    assert {p: p.read_text() for p in root.rglob("*.po")} == before


def test_a_string_missing_from_a_catalogue_names_its_source_line(tmp_path):
    catalogues = dict(COMPLETE)
    catalogues["es"] = (
        'msgid "Good day"\nmsgstr "Buenos días"\n\nmsgid "Hello {name}"\nmsgstr "Hola {name}"\n'
    )
    root = package(tmp_path, catalogues)
    with pytest.raises(CommandError, match="1 catalogue problem"):
        check(root)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_messages", source=str(root), stderr=err)
    assert err.getvalue() == (
        "pkg/templates/page.html:2: 'Sign in' is missing from pkg/locale/es/LC_MESSAGES/django.po\n"
    )


def test_untranslated_fuzzy_and_mismatched_entries_name_the_catalogue_line(tmp_path):
    catalogues = dict(COMPLETE)
    catalogues["vi"] = (
        'msgid "Good day"\nmsgstr ""\n\n'  # lines 5-6
        '#, fuzzy\nmsgid "Hello {name}"\nmsgstr "Xin chào {name}"\n\n'  # lines 8-10
        'msgid "Sign in"\nmsgstr "Đăng nhập {ten}"\n'  # lines 12-13
    )
    root = package(tmp_path, catalogues)
    err = io.StringIO()
    with pytest.raises(CommandError, match="3 catalogue problem"):
        call_command("check_messages", source=str(root), stderr=err)
    assert err.getvalue().splitlines() == [
        "pkg/locale/vi/LC_MESSAGES/django.po:5: untranslated 'Good day'",
        "pkg/locale/vi/LC_MESSAGES/django.po:9: fuzzy entry 'Hello {name}'",
        "pkg/locale/vi/LC_MESSAGES/django.po:12: translation of 'Sign in' has placeholders "
        "['ten'], the msgid []",
    ]
