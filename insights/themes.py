"""Giving answers their themes and tone, in the background: never on the answering path.

Kinds of work, one batch at a time, each batch in a transaction that holds the one
``ThemeSweep`` row, so that they never write the same answer's themes or tone at once:

- ``sweep``: the answers stored or changed since the last sweep (by ``updated_at``, then id) get
  the themes of every theme's rules and their tone (``insights.tone``), and ``themes_given`` tells
  who waits for them (the alert rules with a theme condition). It stays ``LAG`` behind the clock:
  an answer's ``updated_at`` is read before its transaction commits, so one committing late is not
  passed by.
- ``match_again``: after a theme's rules changed, all comments are matched against them anew, in
  the order of their ids, the theme's progress kept on it (``matched`` of ``to_match``). Its
  answers keep their old theme until their batch comes, so its figures never drop to nothing.
- ``insights.tone.tone_again``: after a tone lexicon was learned, all comments of its language get
  their tone anew, likewise.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from insights import tone
from insights.models import SWEEP_LAG, ResponseTheme, Theme, ThemeSweep, ToneLexicon
from insights.rules import Rules, Terms
from insights.signals import themes_given
from surveys.models import Response

BATCH_SIZE = 2000
LAG = SWEEP_LAG


class ThemeRefused(ValueError):
    """A theme asked for by a name that no theme has; the message names it."""


def themes_named(names: Sequence[str]) -> dict[int, str]:
    """The themes of these names (exactly as named), {id: name}, in one query; ThemeRefused naming
    the first name, in alphabetical order, that no theme has."""
    # No name holds a NUL character, and PostgreSQL refuses to compare one: it is unknown, not an error.
    found = dict(
        Theme.objects.filter(name__in=[name for name in names if "\x00" not in name]).values_list(
            "name", "pk"
        )
    )
    if unknown := sorted(set(names) - found.keys()):
        raise ThemeRefused(_("There is no theme “%(theme)s”.") % {"theme": unknown[0]})
    return {pk: name for name, pk in found.items()}


def start_matching(theme: Theme, *, now: datetime) -> None:
    """Match every comment against the theme's (new) rules, from the first on."""
    theme.rules_changed_at = now
    theme.to_match = Response.objects.exclude(comment_ngrams=[]).count()
    theme.matched = 0
    theme.matching_after = 0
    theme.save(update_fields=["rules_changed_at", "to_match", "matched", "matching_after"])


def sweep(*, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Give the next batch of new and changed answers their themes and tone; how many answers it
    held."""
    until = now - LAG
    with transaction.atomic():
        state = ThemeSweep.locked(now)
        if not Theme.objects.exists() and not ToneLexicon.objects.exists():  # nothing to give: skip ahead
            ThemeSweep.objects.filter(pk=1, updated_at__lt=until).update(updated_at=until, response_id=0)
            return 0
        changed = Response.objects.filter(updated_at__lte=until).filter(
            Q(updated_at__gt=state.updated_at) | Q(updated_at=state.updated_at, pk__gt=state.response_id)
        )
        rows = changed.order_by("updated_at", "pk").values_list(
            "pk", "updated_at", "language", "comment_ngrams"
        )
        batch = list(rows[:batch_size])
        if not batch:
            return 0
        answers = [(pk, language, terms) for pk, _, language, terms in batch]
        _assign(answers, Theme.objects.all())
        tone.give_tones(answers)
        themes_given.send(sender=Theme, response_ids=[pk for pk, _, _ in answers])
        state.response_id, state.updated_at = batch[-1][0], batch[-1][1]
        state.save(update_fields=["response_id", "updated_at"])
        return len(batch)


def give(answers: Iterable[Response]) -> None:
    """Give these answers their themes and tone at once, outside the sweep: answers written with
    past times (an import's) lie behind it, since it follows ``updated_at`` forward. Nobody is told
    (no ``themes_given``): alert rules watch what comes in, not history."""
    batch = [
        (answer.pk, answer.language, answer.comment_ngrams) for answer in answers if answer.comment_ngrams
    ]
    if batch:
        _assign(batch, Theme.objects.all())
        tone.give_tones(batch)


def match_again(*, now: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Match the next batch of comments against the rules of a theme whose rules changed (the
    one that changed first); how many comments it held."""
    with transaction.atomic():
        ThemeSweep.locked(now)
        theme = Theme.objects.filter(matching_after__isnull=False).order_by("rules_changed_at").first()
        if theme is None:
            return 0
        after = theme.matching_after or 0
        batch = list(
            Response.objects.filter(pk__gt=after)
            .exclude(comment_ngrams=[])
            .order_by("pk")
            .values_list("pk", "language", "comment_ngrams")[:batch_size]
        )
        last = batch[-1][0] if len(batch) == batch_size else None
        # The answers up to the batch's last, or all the rest: those without a comment lose it too.
        within = Q(response_id__gt=after) & (Q(response_id__lte=last) if last else Q())
        ResponseTheme.objects.filter(within, theme=theme).delete()
        _assign(batch, [theme], replace=False)
        theme.matched += len(batch)
        theme.to_match = max(theme.to_match, theme.matched)
        if last is None:  # done: fewer comments than counted at the start if some were deleted
            theme.matched = theme.to_match
        theme.matching_after = last
        theme.save(update_fields=["matched", "to_match", "matching_after"])
        return len(batch)


def themes_of(terms: Iterable[str], language: str, rules: dict[int, Rules | None]) -> list[int]:
    """The ids of the themes whose rules (by theme id, None where the theme is for the other
    language) a comment with these terms meets."""
    found = Terms.of(terms)
    return [theme for theme, theme_rules in rules.items() if theme_rules and theme_rules.match(found)]


def _assign(
    batch: list[tuple[int, str, list[str]]], themes: Iterable[Theme], *, replace: bool = True
) -> None:
    """Write the themes of each (answer id, language, terms); ``replace`` removes the answers'
    other themes first."""
    themes = list(themes)
    rules = {language: {theme.pk: theme.rules(language) for theme in themes} for language in ("de", "en")}
    if replace:
        ResponseTheme.objects.filter(response_id__in=[pk for pk, _, _ in batch]).delete()
    ResponseTheme.objects.bulk_create(
        (
            ResponseTheme(response_id=pk, theme_id=theme)
            for pk, language, terms in batch
            for theme in themes_of(terms, language, rules[language])
        ),
        ignore_conflicts=True,
    )
