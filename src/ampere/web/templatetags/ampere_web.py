"""Filters and tags of the web shell: ``{% load ampere_web %}``.

Formatting filters read the active language (Django's), the utility's country (set by the web
middleware) and the active time zone (the utility's):

    {{ balance|money }}          Money → "318.082 ₫", "$1,234.50"
    {{ 1234.5|number }}          → "1.234,5"; {{ value|number:2 }} fixes the decimals
    {{ bill_date|local_date }}   date or instant → "12 thg 3, 2026"
    {{ at|local_datetime }}      instant → "Mar 12, 2026, 3:04 PM" in the utility's zone

Components: ``{% field form.name %}``, ``{% error_summary form %}``, ``{% pager page %}``,
``{% language_switch %}``, ``{% toasts %}``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.forms import BaseForm, BoundField
from django.template.base import FilterExpression, Parser, Token
from django.template.context import Context
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from ampere.core.money import Money
from ampere.core.periods import DatePeriod
from ampere.web import formatting
from ampere.web.paging import Pager

register = template.Library()


def current_locale() -> str:
    """The Babel locale of the active language and the utility's country."""
    return formatting.locale_for(translation.get_language() or "en", formatting.region.get())


@register.filter
def money(value: Money | None) -> str:
    if value is None:
        return ""
    return formatting.money(value, locale=current_locale())


@register.filter
def number(value: Decimal | int | None, decimals: int | None = None) -> str:
    if value is None:
        return ""
    return formatting.number(value, locale=current_locale(), decimals=decimals)


@register.filter
def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return formatting.local_date(value, locale=current_locale(), tz=timezone.get_current_timezone())


@register.filter
def long_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    return formatting.long_date(value, locale=current_locale(), tz=timezone.get_current_timezone())


@register.filter
def date_range(value: DatePeriod | None) -> str:
    """A half-open period of dates shown with its last day included."""
    if value is None:
        return ""
    return formatting.date_range(value, locale=current_locale())


@register.filter
def local_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return formatting.local_datetime(
        value, locale=current_locale(), tz=timezone.get_current_timezone()
    )


@register.filter
def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return formatting.local_time(value, locale=current_locale(), tz=timezone.get_current_timezone())


@register.simple_tag
def zone_name() -> str:
    """The name of the active zone for people ("Giờ Việt Nam", "Pacific Time")."""
    return formatting.zone_name(
        timezone.get_current_timezone(), locale=current_locale(), at=timezone.now()
    )


def _described_by(bound: BoundField) -> str:
    ids = []
    if bound.help_text:
        ids.append(f"{bound.auto_id}-hint")
    if bound.errors:
        ids.append(f"{bound.auto_id}-error")
    return " ".join(ids)


@register.inclusion_tag("web/components/field.html")
def field(bound: BoundField, autocomplete: str = "") -> dict[str, Any]:
    """A form field with its label, hint and error next to it (GOV.UK pattern)."""
    attrs: dict[str, str | bool] = {}
    described_by = _described_by(bound)
    if described_by:
        attrs["aria-describedby"] = described_by
    if bound.errors:
        attrs["aria-invalid"] = "true"
    if autocomplete:
        attrs["autocomplete"] = autocomplete
    return {
        "field": bound,
        "widget": bound.as_widget(attrs=attrs),
        "hint_id": f"{bound.auto_id}-hint",
        "error_id": f"{bound.auto_id}-error",
    }


@register.inclusion_tag("web/components/error_summary.html")
def error_summary(form: BaseForm) -> dict[str, Any]:
    """The errors of ``form`` at the top of the page, each linking to its field; a form-wide
    error links to the first field."""
    items: list[tuple[str, str]] = []
    fields = list(form)
    first = f"#{fields[0].auto_id}" if fields else "#main"
    for message in form.non_field_errors():
        items.append((first, str(message)))
    for bound in fields:
        for message in bound.errors:
            items.append((f"#{bound.auto_id}", str(message)))
    return {"items": items}


@register.inclusion_tag("web/components/language_switch.html", takes_context=True)
def language_switch(context: Context) -> dict[str, Any]:
    request = context.get("request")
    current = translation.get_language()
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "languages": [
            {"code": code, "name": formatting.language_name(code), "current": code == current}
            for code, _ in settings.LANGUAGES
        ],
        "next": request.get_full_path() if request is not None else "/",
    }


@register.inclusion_tag("web/components/toasts.html", takes_context=True)
def toasts(context: Context) -> dict[str, Any]:
    """The Django messages of the request, in a polite live region."""
    return {"messages": list(context.get("messages") or [])}


class DialogNode(template.Node):
    def __init__(
        self,
        nodelist: template.NodeList,
        id_: FilterExpression,
        title: FilterExpression,
    ) -> None:
        self.nodelist = nodelist
        self.id = id_
        self.title = title

    def render(self, context: Context) -> str:
        return render_to_string(
            "web/components/dialog.html",
            {
                "id": self.id.resolve(context),
                "title": self.title.resolve(context),
                "body": mark_safe(self.nodelist.render(context)),  # noqa: S308 - rendered by the template engine
            },
        )


@register.tag
def dialog(parser: Parser, token: Token) -> DialogNode:
    """``{% dialog "id" title %}body{% enddialog %}``: a native ``<dialog>`` with a heading and a
    close button; open it with ``<button type="button" data-dialog-open="id">``."""
    bits = token.split_contents()
    if len(bits) != 3:
        raise template.TemplateSyntaxError("{% dialog id title %} takes an id and a title")
    nodelist = parser.parse(("enddialog",))
    parser.delete_first_token()
    return DialogNode(nodelist, parser.compile_filter(bits[1]), parser.compile_filter(bits[2]))


@register.inclusion_tag("web/components/pager.html")
def pager(value: Pager) -> dict[str, Any]:
    """The previous and next links of a paged table."""
    return {"pager": value}
