"""`ampere check_messages`: the gettext catalogues are complete.

Runs ``makemessages`` for every language of ``LANGUAGES`` over a temporary copy of the source
(so the catalogues in the checkout stay as they are) and fails, naming file and line, on

- a string marked in the source (``gettext``, ``{% translate %}``, ``ampere.core.i18n._`` ...)
  that a catalogue lacks (the source file and line);
- an entry of a catalogue that is untranslated or fuzzy (the catalogue file and line);
- a translation whose placeholders (``{name}``, ``%(name)s``) differ from its msgid's.

Strings no longer in the source are reported as obsolete, without failing.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from argparse import ArgumentParser
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

DOMAINS = ("django", "djangojs")
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


@dataclass(frozen=True)
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def _read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, abort_invalid=True)


def _key(message: Message) -> tuple[str, str | None]:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return msgid, message.context


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in _PLACEHOLDER.findall(text)}


def _translations(message: Message) -> list[str]:
    if isinstance(message.string, str):
        return [message.string]
    return list(message.string or ())


def _ids(message: Message) -> list[str]:
    return [message.id] if isinstance(message.id, str) else list(message.id)


def check_catalogue(path: Path, shown: str) -> list[Problem]:
    """Untranslated, fuzzy and placeholder-mismatched entries of one catalogue."""
    problems = []
    for message in _read(path):
        if not message.id:
            continue  # the header
        where = f"{shown}:{message.lineno}"
        msgid = _ids(message)[0]
        if message.fuzzy:
            problems.append(Problem(where, f"fuzzy entry {msgid!r}"))
        elif not all(_translations(message)):
            problems.append(Problem(where, f"untranslated {msgid!r}"))
        else:
            expected = set().union(*(_placeholders(i) for i in _ids(message)))
            for text in _translations(message):
                if _placeholders(text) != expected:
                    problems.append(
                        Problem(
                            where,
                            f"translation of {msgid!r} has placeholders "
                            f"{sorted(_placeholders(text))}, the msgid {sorted(expected)}",
                        )
                    )
    return problems


class Command(BaseCommand):
    help = "Fail on a marked string missing from a catalogue and on untranslated or fuzzy entries."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--source",
            default=str(Path(settings.BASE_DIR) / "src" / "ampere"),
            help="the package whose strings and catalogues (its locale/ folder) are checked",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["source"]).resolve()
        locale = source / "locale"
        languages = [code for code, _ in settings.LANGUAGES]
        problems: list[Problem] = []
        obsolete: list[str] = []
        with tempfile.TemporaryDirectory(prefix="ampere-messages-") as scratch:
            copy = Path(scratch) / source.name
            shutil.copytree(
                source, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo", "static")
            )
            (copy / "locale").mkdir(exist_ok=True)
            self._make_messages(copy, languages)
            for language in languages:
                for domain in DOMAINS:
                    kept = locale / language / "LC_MESSAGES" / f"{domain}.po"
                    extracted = copy / "locale" / language / "LC_MESSAGES" / f"{domain}.po"
                    shown = kept.relative_to(source.parent)
                    if kept.exists():
                        problems += check_catalogue(kept, str(shown))
                        kept_keys = {_key(m) for m in _read(kept) if m.id}
                    else:
                        kept_keys = set()
                    if not extracted.exists():
                        continue
                    fresh = {_key(m): m for m in _read(extracted) if m.id}
                    for key, message in fresh.items():
                        if key in kept_keys:
                            continue
                        for file, line in message.locations or [("?", 0)]:
                            problems.append(
                                Problem(
                                    f"{source.name}/{file}:{line}",
                                    f"{key[0]!r} is missing from {shown}",
                                )
                            )
                    obsolete += [
                        f"{shown}: {k[0]!r}" for k in sorted(kept_keys - fresh.keys(), key=str)
                    ]
        for entry in obsolete:
            self.stdout.write(f"obsolete (no longer in the source): {entry}")
        if problems:
            for problem in problems:
                self.stderr.write(str(problem))
            raise CommandError(
                f"{len(problems)} catalogue problem(s): translate them in "
                f"{locale.relative_to(source.parent)} (make messages-update adds new strings)"
            )
        self.stdout.write(f"Catalogues complete: {', '.join(languages)}.")

    def _make_messages(self, copy: Path, languages: list[str]) -> None:
        import os

        previous = Path.cwd()
        os.chdir(copy)
        try:
            with override_settings(LOCALE_PATHS=[copy / "locale"]):
                for domain in DOMAINS:
                    call_command(
                        "makemessages",
                        locale=languages,
                        domain=domain,
                        verbosity=0,
                        no_obsolete=True,
                        ignore_patterns=["static/*", "migrations/*"],
                    )
        finally:
            os.chdir(previous)
