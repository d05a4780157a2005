"""The filters in one line, for the summary of the collapsed filter form on phones."""

from datetime import date

from django import template
from django.template.defaultfilters import capfirst
from django.utils import formats
from django.utils.translation import gettext, ngettext

register = template.Library()


@register.simple_tag
def filter_summary(controls: dict) -> list[str]:
    """The survey, the period, the chosen touchpoints and how many other filters apply, e.g.
    ["Checkout NPS", "Last 30 days", "Touchpoint: Checkout", "2 more filters", "Term: “late”"]; from
    the filter form's controls, so it shows what the form shows; [] without controls."""
    if not controls:
        return []
    parts = [str(option.label) for option in controls.get("surveys", []) if option.selected]
    for option in controls.get("ranges", []):
        if option.selected and option.value == "custom":
            parts.append(f"{_day(controls.get('since', ''))} – {_day(controls.get('until', ''))}")
        elif option.selected:
            parts.append(capfirst(str(option.label)))
    touchpoints = [str(option.label) for option in controls.get("touchpoints", []) if option.selected]
    if touchpoints:
        parts.append(
            ngettext("Touchpoint: %(names)s", "Touchpoints: %(names)s", len(touchpoints))
            % {"names": ", ".join(touchpoints)}
        )
    others = sum(
        option.selected for _name, _label, options in controls.get("properties", []) for option in options
    )
    others += sum(option.selected for option in controls.get("tags", []))
    if others:
        parts.append(ngettext("%(count)d more filter", "%(count)d more filters", others) % {"count": others})
    if term := controls.get("term"):
        parts.append(gettext("Term: “%(term)s”") % {"term": term})
    return parts


def _day(value: str) -> str:
    """An ISO date as the language writes it; anything else as it is."""
    try:
        return formats.date_format(date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except ValueError:
        return value or "…"
