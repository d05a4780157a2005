"""The texts a survey's owner writes (questions, thank-you texts, the emails' subject and
introduction, replies to customers): small templates that personalise and can do nothing else.

Every text writes its placeholders one way, as Django templates do: ``{{ brand }}`` and
``{{ subject }}`` everywhere, ``{{ properties.<name> }}`` (the event's, where an invitation has
one; empty on links and in the widget), and where a person is known (emails, replies)
``{{ contact.name }}`` and ``{{ contact.email }}``; a reply also has ``{{ score }}``. The
texts shown on the answering page and in the widget know no person: they are shown on links too.
A text goes through a few filters that keep a value about as long as it is (``default``,
``upper``, ``truncatechars:40`` …), and may choose between wordings with ``{% if %}``,
``{% elif %}``, ``{% else %}`` and ``{% endif %}``. Nothing else: no loops and no other tags, so a
text renders once through, in time proportional to its length and its data, both of which are
bounded.

Texts are checked where they are saved (the set-up pages and the admin through the model's
validators, the API) and again when they render, since a text saved under earlier rules may break
these. A text that is refused, fails, grows beyond its length or takes too long gives way to the
standard text: the page shows, the email still goes out.
"""

import difflib
import functools
import logging
import re
import time

from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, Template, defaultfilters, defaulttags
from django.template.base import FilterExpression, Lexer, Node, TextNode, TokenType, Variable, VariableNode
from django.template.defaulttags import IfNode
from django.utils import translation
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

# How long a text may get once personalised. The subject field holds 200 characters, a name or a
# property (up to 500 characters) may add to it; an introduction holds 2,000. A page's text (500
# characters) may grow by a brand and a subject. Beyond these a text has gone wrong, or been made
# to, and the standard text goes out instead.
MAX_SUBJECT_LENGTH = 500
MAX_INTRO_LENGTH = 5000
MAX_PAGE_TEXT_LENGTH = 1000
# The slowest text the rules allow (2,000 characters of upper-cased 500-character properties:
# 90,000 characters) renders in a few milliseconds; this is a tripwire for what the rules did not
# foresee, high enough that a busy machine does not trip it.
RENDER_BUDGET_SECONDS = 0.05

# Filters that keep a value about as long as it is: they choose it, change its case or shorten it.
# Left out are those whose output grows with an argument (stringformat:"020000000d" writes 20
# million digits; center, ljust, rjust, floatformat, wordwrap), those that only make sense in HTML
# (texts are plain text) and those with no use on a single value: a property is text, a number,
# true, false or null, so first, last, length, join and slice would only pick or count letters.
FILTERS = (
    "default",
    "default_if_none",
    "lower",
    "upper",
    "title",
    "capfirst",
    "truncatechars",
    "truncatewords",
)
# These take a whole number, written in the text.
_COUNTING_FILTERS = ("truncatechars", "truncatewords")
MAX_TRUNCATE = 2000
_CONDITION_TAGS = ("if", "elif", "else", "endif")
_LOOP_TAGS = ("for", "empty", "endfor")
_CONTACT_FIELDS = ("name", "email")
# What each kind of text may use: a page's text is shown on links and in the widget too, where no
# person is known and no event brought properties (there they are empty, so that
# {{ properties.product|default:brand }} reads as the brand); an email knows its contact and the
# event's properties; a reply, the score too.
PAGE_PLACEHOLDERS = ("brand", "subject", "properties")
EMAIL_PLACEHOLDERS = ("brand", "subject", "contact", "properties")
REPLY_PLACEHOLDERS = (*EMAIL_PLACEHOLDERS, "score")
# The single braces of earlier texts ({brand}), which now print as they are.
_OLD_PLACEHOLDER = re.compile(r"(?<!\{)\{\s*([A-Za-z_][\w.]*)\s*\}(?!\})")


def _survey_text_engine() -> Engine:
    """Only the if tag; every built-in filter, so that a refused one is named (see _check_expression)."""
    engine = Engine(loaders=[], libraries={})
    tags = Library()
    tags.tags = {"if": defaulttags.register.tags["if"]}
    engine.template_builtins = [tags, defaultfilters.register]
    return engine


_TEXT_ENGINE = _survey_text_engine()
_FILTER_NAMES = {function: name for name, function in defaultfilters.register.filters.items()}


def validate_page_text(value: str) -> None:
    """For the texts of the answering page and the widget: raises ValidationError saying what in
    the text cannot be used, and how to write it."""
    _validate(value, PAGE_PLACEHOLDERS)


def validate_email_text(value: str) -> None:
    """For the emails' subject and introduction, as ``validate_page_text``."""
    _validate(value, EMAIL_PLACEHOLDERS)


def validate_reply_text(value: str) -> None:
    """For replies to customers, as ``validate_page_text``."""
    _validate(value, REPLY_PLACEHOLDERS)


def placeholders(allowed: tuple[str, ...]) -> list[str]:
    """The placeholders a kind of text may use, as one writes them."""
    written = {
        "contact": ["{{ contact.name }}", "{{ contact.email }}"],
        "properties": ["{{ properties.<name> }}"],
    }
    return [text for name in allowed for text in written.get(name, [f"{{{{ {name} }}}}"])]


def _validate(value: str, allowed: tuple[str, ...]) -> None:
    if old := _OLD_PLACEHOLDER.search(value):
        raise _refusal(
            _("“%(old)s” is not a placeholder: write %(new)s."),
            old=old.group(),
            new=_suggestion(old.group(1), allowed),
        )
    compiled = _compile(value, allowed)
    if isinstance(compiled, ValidationError):
        raise ValidationError(compiled.message, code=compiled.code, params=compiled.params)


def render_survey_text(
    source: str,
    standard: str,
    values: dict,
    *,
    max_length: int,
    where: str,
    allowed: tuple[str, ...] = EMAIL_PLACEHOLDERS,
) -> str:
    """The text ``source`` personalised with ``values`` (``brand``, ``subject``, and as ``allowed``
    ``contact``, a dict of name and email, ``properties`` and ``score``), as plain text (nothing
    escaped).

    The standard text ``standard``, personalised alike, if the text is empty, breaks the rules,
    fails, is longer than ``max_length`` characters or takes longer than RENDER_BUDGET_SECONDS,
    with a warning naming ``where``; ``standard`` as it is written should that fail too.

    Plain text even for HTML, which escapes all of it: the CX manager's own words are user text as
    much as the contact's name is.
    """
    values = {"contact": {}, "properties": {}, **values}
    if source:
        text = _render(source, values, max_length=max_length, where=where, allowed=allowed)
        if text is not None:
            return text
    return (
        _render(standard, values, max_length=max_length, where=f"standard {where}", allowed=allowed)
        or standard
    )


def _render(
    source: str, values: dict, *, max_length: int, where: str, allowed: tuple[str, ...]
) -> str | None:
    template = _compiled(source, allowed)
    if isinstance(template, ValidationError):
        _warn_refused(where, source, allowed)
        return None
    context = Context({**values, "properties": _Properties(values["properties"])}, autoescape=False)
    started = time.perf_counter()
    try:
        # As a plain str: a template marks what it renders as safe for HTML, and this is plain text.
        text = str.__str__(template.render(context))
    # Text from the back office meets data from an API client here (a number where text was
    # expected): whatever breaks, the email still goes out.
    except Exception:
        logger.warning("The text %s does not render; the standard text is used", where, exc_info=True)
        return None
    seconds = time.perf_counter() - started
    if len(text) > max_length or seconds > RENDER_BUDGET_SECONDS:
        logger.warning(
            "The text %s rendered %d characters in %.1f ms (at most %d in %d ms); the standard text is used",
            where,
            len(text),
            seconds * 1000,
            max_length,
            RENDER_BUDGET_SECONDS * 1000,
        )
        return None
    return text


class _Properties(dict):
    """Properties as a template sees them: a missing one is empty.

    Django looks a missing key up as an attribute next, and calls what it finds:
    ``{{ properties.clear }}`` would empty the invitation's properties, ``properties.items``
    print all of them.
    """

    def __missing__(self, key: str) -> str:
        return ""


@functools.lru_cache(maxsize=100)
def _warn_refused(where: str, source: str, allowed: tuple[str, ...]) -> None:
    """Once per text and process: every email of a survey with such a text would repeat it."""
    refusal = _compiled(source, allowed)
    with translation.override("en"):
        problem = "; ".join(refusal.messages) if isinstance(refusal, ValidationError) else ""
    logger.warning("The text %s breaks the rules (%s); the standard text is used", where, problem)


def _compile(source: str, allowed: tuple[str, ...]) -> Template | ValidationError:
    """The compiled text, or why it is refused."""
    try:
        _check_tags(source)
        template = _TEXT_ENGINE.from_string(source)
        for node in template.nodelist:
            _check_node(node, allowed)
    except ValidationError as refusal:
        return refusal
    # Django's syntax errors, and whatever else a made-up text gets out of the parser (a
    # thousand nested "not" exceed Python's recursion limit).
    except Exception as error:
        return ValidationError(
            _("This text cannot be used: %(error)s"),
            code="invalid_template",
            params={"error": error},
        )
    return template


# Texts repeat from email to email: each is compiled once. Templates render safely from many threads.
_compiled = functools.lru_cache(maxsize=1000)(_compile)


def _check_tags(source: str) -> None:
    """Refuses every tag but if, elif, else and endif, before Django reads them as unknown."""
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK or not token.contents.split():
            continue
        tag = token.contents.split()[0]
        if tag in _LOOP_TAGS:
            raise _refusal(_("Loops (%(tag)s) cannot be used in survey texts."), tag="{% for %}")
        if tag not in _CONDITION_TAGS:
            raise _refusal(
                _("The tag “%(tag)s” cannot be used in survey texts; only %(allowed)s can."),
                tag=f"{{% {tag} %}}",
                allowed=", ".join(f"{{% {name} %}}" for name in _CONDITION_TAGS),
            )


def _check_node(node: Node, allowed: tuple[str, ...]) -> None:
    if isinstance(node, TextNode):
        return
    if isinstance(node, VariableNode):
        _check_expression(node.filter_expression, allowed)
        return
    if isinstance(node, IfNode):
        for condition, nodelist in node.conditions_nodelists:
            if condition is not None:
                _check_condition(condition, allowed)
            for child in nodelist:
                _check_node(child, allowed)
        return
    # The engine knows no other tag; should one appear, it is refused rather than run.
    raise _refusal(_("This text cannot be used: %(error)s"), error=type(node).__name__)


def _check_condition(condition, allowed: tuple[str, ...]) -> None:
    """The operands of an if: a tree of operators (first, second) over literals (value)."""
    if isinstance(getattr(condition, "value", None), FilterExpression):
        _check_expression(condition.value, allowed)
    for operand in (getattr(condition, "first", None), getattr(condition, "second", None)):
        if operand is not None:
            _check_condition(operand, allowed)


def _check_expression(expression: FilterExpression, allowed: tuple[str, ...]) -> None:
    if isinstance(expression.var, Variable):
        _check_variable(expression.var, allowed)
    for function, arguments in expression.filters:
        name = _FILTER_NAMES.get(function, "")
        if name not in FILTERS:
            raise _refusal(
                _("The filter “%(filter)s” cannot be used in survey texts; use one of: %(allowed)s."),
                filter=name,
                allowed=", ".join(FILTERS),
            )
        for is_variable, argument in arguments:
            if is_variable:
                _check_variable(argument, allowed)
            if name in _COUNTING_FILTERS and not _is_count(argument):
                message = _(
                    "The filter “%(filter)s” takes a whole number from 1 to %(limit)d, e.g. %(filter)s:40."
                )
                raise _refusal(message, filter=name, limit=MAX_TRUNCATE)


def _is_count(argument: object) -> bool:
    """A number written in the text (not a variable, not text), 1 to MAX_TRUNCATE."""
    # Django reads 40 as a Variable without look-ups, "40" as text.
    number = argument.literal if isinstance(argument, Variable) else argument
    return type(number) is int and 1 <= number <= MAX_TRUNCATE


def _check_variable(variable: Variable, allowed: tuple[str, ...]) -> None:
    """The ``allowed`` of brand, subject, score, contact.name, contact.email, properties.<name>;
    literals ("text", 3) too.

    A property's name may hold dots (``order.id``): its value is a single value, never an
    object to look into, so ``properties.order.id`` is looked up as ``order.id``.
    """
    if variable.lookups is None:  # a literal: "text", 3
        return
    root, *rest = variable.lookups
    if root == "properties" and rest and root in allowed:
        variable.lookups = (root, ".".join(rest))
    elif not (
        (root == "contact" and root in allowed and len(rest) == 1 and rest[0] in _CONTACT_FIELDS)
        or (root in allowed and root not in ("contact", "properties") and not rest)
    ):
        raise _unknown_placeholder(variable, allowed)


def _unknown_placeholder(variable: Variable, allowed: tuple[str, ...]) -> ValidationError:
    return _refusal(
        _("“%(placeholder)s” cannot be used in this text; write %(suggestion)s."),
        placeholder=f"{{{{ {variable.var} }}}}",
        suggestion=_suggestion(str(variable.var), allowed),
    )


def _suggestion(name: str, allowed: tuple[str, ...]) -> str:
    """The placeholder meant by ``name`` (``{{ brand }}`` for "brand", ``{{ contact.name }}`` for
    "name" or "contact.nmae"), else every one this text may use."""
    known = placeholders(allowed)
    spelled = {text.strip("{} "): text for text in known}
    spelled |= {key.partition(".")[2]: text for key, text in spelled.items() if key.startswith("contact.")}
    close = difflib.get_close_matches(name, list(spelled), n=1, cutoff=0.75)
    if close:
        return spelled[close[0]]
    return _("one of %(placeholders)s") % {"placeholders": ", ".join(known)}


def _refusal(message, **params) -> ValidationError:
    return ValidationError(message, code="invalid_template", params=params)
