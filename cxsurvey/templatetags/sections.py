"""The staff's navigation: one list of sections for the app's pages and the admin's header.

Each section is shown to whoever may open it, and marked as the current one on its own pages.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import template
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cxsurvey.signin import may_use_back_office
from followup.access import may_work_on_cases
from surveys.access import AnyUser, may_export, may_read_feedback
from surveys.setup.pages import may_set_up

register = template.Library()


@dataclass(frozen=True)
class Section:
    key: str
    url_name: str
    label: str | Promise
    may_open: Callable[[AnyUser], bool]
    pages: frozenset[str]  # the views ("namespace:name", or "namespace:*" for all) of the section


SECTIONS = [
    Section("home", "feedback:home", _("Home"), may_read_feedback, frozenset({"feedback:home"})),
    Section(
        "dashboard",
        "feedback:dashboard",
        _("Dashboard"),
        may_read_feedback,
        frozenset({"feedback:dashboard"}),
    ),
    Section(
        "comments",
        "feedback:verbatims",
        _("Comments"),
        may_read_feedback,
        frozenset({"feedback:verbatims", "feedback:response"}),
    ),
    Section(
        "insights", "insights:insights", _("Insights"), may_read_feedback, frozenset({"insights:insights"})
    ),
    Section(
        "cases",
        "followup:inbox",
        _("Cases"),
        may_work_on_cases,
        frozenset({"followup:inbox", "followup:case"}),
    ),
    Section(
        "exports",
        "feedback:exports",
        _("My exports"),
        lambda user: may_read_feedback(user) and may_export(user),
        frozenset({"feedback:exports", "feedback:export"}),
    ),
    Section("settings", "setup:index", _("Settings"), may_set_up, frozenset({"setup:*"})),
    Section("digest", "followup:digest", _("Digest"), may_read_feedback, frozenset({"followup:digest"})),
    Section("back-office", "admin:index", _("Back office"), lambda user: True, frozenset({"admin:*"})),
]


@dataclass(frozen=True)
class Link:
    key: str
    url: str
    label: str | Promise
    current: str  # aria-current: "page" on the section's own page, "true" on its other pages, else ""


def links(request: HttpRequest) -> list[Link]:
    """The sections this request's user may open; none for who may not use the back office."""
    user = request.user
    if not may_use_back_office(user):
        return []
    match = request.resolver_match
    here = {match.view_name, f"{match.namespace}:*"} if match else set()
    return [
        Link(section.key, reverse(section.url_name), section.label, _current(section, here))
        for section in SECTIONS
        if section.may_open(user)
    ]


def _current(section: Section, here: set[str]) -> str:
    if section.url_name in here:
        return "page"
    return "true" if section.pages & here else ""


@register.inclusion_tag("cxsurvey/sections.html", takes_context=True)
def sections(context: template.Context) -> dict:
    """The navigation (``{% sections %}``), collapsed into a menu button on phones."""
    return {"links": links(context["request"])}
