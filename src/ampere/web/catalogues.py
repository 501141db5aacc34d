"""Compiling the gettext catalogues (``locale/*/LC_MESSAGES/*.po`` → ``.mo``) with Babel, so
neither `make run` nor `ampere up` needs GNU gettext; the ``.mo`` files are not in git."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def compile_catalogues(locale_dirs: list[Path]) -> list[Path]:
    """Write each ``.mo`` older than its ``.po`` (fuzzy entries left out, as msgfmt does);
    the ``.mo`` files written."""
    written = []
    for folder in locale_dirs:
        for po in sorted(Path(folder).glob("*/LC_MESSAGES/*.po")):
            mo = po.with_suffix(".mo")
            if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
                continue
            with po.open("rb") as source:
                catalog = read_po(source)
            with mo.open("wb") as target:
                write_mo(target, catalog, use_fuzzy=False)
            written.append(mo)
    return written
