"""Changes to what decides who may do what and what customers receive, whichever path makes them
(the back office, the API, a command): surveys and touchpoints (texts and rules), roles, teams,
API tokens, webhook subscriptions and their secrets, and the installation's settings.

Recorded from Django's model signals, so that no path can forget it. A change records the fields
that changed with their values before and after; a secret's values never reach the log, only
that a new one was made.
"""

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from audit.log import Action, filters, record

LONGEST_VALUE = 2000  # characters of a changed text kept in the log


@dataclass(frozen=True)
class Watch:
    action: str
    fields: tuple[str, ...]
    secrets: tuple[str, ...] = ()
    on_update: bool = True
    on_delete: bool = True
    relations: dict[str, str] = field(default_factory=dict)  # m2m field → action


def _fields(model: type[models.Model], *, leave_out: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(
        f.attname
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in leave_out and f.attname not in leave_out
    )


def _watched() -> dict[type[models.Model], Watch]:
    from feedback.models import ExportRecord
    from followup.models import AlertRule
    from surveys.models import ApiToken, LegalInformation, PropertyLabel, Survey, Team, Touchpoint
    from webhooks.models import Subscription

    User = get_user_model()
    return {
        Survey: Watch(
            Action.SURVEY_CHANGED, _fields(Survey, leave_out=("created_at",)), ("identity_secret",)
        ),
        Touchpoint: Watch(Action.SURVEY_CHANGED, _fields(Touchpoint, leave_out=("created_at",))),
        Team: Watch(
            Action.TEAM_CHANGED,
            ("name",),
            relations={"members": Action.TEAM_CHANGED, "surveys": Action.TEAM_CHANGED},
        ),
        Group: Watch(Action.ROLES_CHANGED, ("name",), relations={"permissions": Action.ROLES_CHANGED}),
        User: Watch(
            Action.ROLES_CHANGED,
            ("is_active", "is_staff", "is_superuser"),
            relations={"groups": Action.ROLES_CHANGED, "user_permissions": Action.ROLES_CHANGED},
        ),
        ExportRecord: Watch(
            Action.EXPORT_CREATED,
            ("format", "personal", "background", "filters"),
            on_update=False,
            on_delete=False,
        ),
        ApiToken: Watch(Action.API_TOKEN_CREATED, ("name", "write", "user_id"), on_update=False),
        LegalInformation: Watch(
            Action.SETTINGS_CHANGED, _fields(LegalInformation, leave_out=("updated_at",))
        ),
        PropertyLabel: Watch(Action.SETTINGS_CHANGED, _fields(PropertyLabel)),
        # An incoming webhook's URL is its secret: whoever has it may post to the channel.
        AlertRule: Watch(
            Action.SETTINGS_CHANGED,
            _fields(AlertRule, leave_out=("created_at", "updated_at")),
            ("slack_url", "teams_url"),
            relations={name: Action.SETTINGS_CHANGED for name in ("touchpoints", "notify", "tags")},
        ),
        Subscription: Watch(
            Action.SETTINGS_CHANGED,
            ("url", "description", "events", "include_comments", "include_personal_data", "active", "secret"),
            ("secret",),
        ),
    }


WATCHED: dict[type[models.Model], Watch] = {}


def watch(model: type[models.Model], spec: Watch) -> None:
    """Record the changes of ``model`` too (e.g. a settings model of another app)."""
    WATCHED[model] = spec
    uid = f"audit.{model._meta.label_lower}"
    pre_save.connect(_remember, sender=model, dispatch_uid=f"{uid}.pre_save")
    post_save.connect(_saved, sender=model, dispatch_uid=f"{uid}.post_save")
    post_delete.connect(_deleted, sender=model, dispatch_uid=f"{uid}.post_delete")
    for name in spec.relations:
        through = model._meta.get_field(name).remote_field.through
        m2m_changed.connect(_related, sender=through, dispatch_uid=f"{uid}.{name}")


def connect() -> None:
    for model, spec in _watched().items():
        watch(model, spec)


def _remember(sender, instance: models.Model, raw: bool = False, update_fields=None, **kwargs) -> None:
    """Before an update, read the watched fields as they are in the database."""
    spec = WATCHED[sender]
    names = [name for name in spec.fields if update_fields is None or _named(sender, name) in update_fields]
    if raw or not spec.on_update or instance._state.adding or instance.pk is None or not names:
        instance._audit_before = None  # type: ignore[attr-defined]
        return
    instance._audit_before = sender._base_manager.filter(pk=instance.pk).values(*names).first()  # type: ignore[attr-defined]


def _named(model: type[models.Model], attname: str) -> str:
    return next(f.name for f in model._meta.concrete_fields if f.attname == attname)


def _saved(sender, instance: models.Model, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:
        return
    spec = WATCHED[sender]
    if created:
        record(spec.action, target=instance, details={"created": True, **_values(spec, instance)})
        if made := [name for name in spec.secrets if getattr(instance, name)]:
            record(Action.SECRET_CREATED, target=instance, details={"secret": made})
        return
    before = getattr(instance, "_audit_before", None)
    if not before or not spec.on_update:
        return
    changed = {
        name: [_plain(old), _plain(getattr(instance, name))]
        for name, old in before.items()
        if old != getattr(instance, name)
    }
    secrets = [name for name in changed if name in spec.secrets]
    for name in secrets:
        changed[name] = ["…", "…"]
    if changed:
        record(spec.action, target=instance, details={"changed": changed})
    if secrets:
        record(Action.SECRET_CREATED, target=instance, details={"secret": secrets})


def _deleted(sender, instance: models.Model, **kwargs) -> None:
    spec = WATCHED[sender]
    if spec.on_delete:
        action = Action.API_TOKEN_DELETED if spec.action == Action.API_TOKEN_CREATED else spec.action
        record(action, target=instance, details={"deleted": True})


def _related(sender, instance: models.Model, action: str, reverse: bool, model, pk_set, **kwargs) -> None:
    """A change of roles, permissions, team members or team surveys, from either side."""
    if action == "pre_clear":
        pk_set = set(_through_targets(sender, instance, model))
    elif action not in ("post_add", "post_remove"):
        return
    if not pk_set:
        return
    change = "added" if action == "post_add" else "removed"
    others = list(model._base_manager.filter(pk__in=pk_set))
    # From the watched side, one event naming the others; from the other side, one event for each.
    owners, names = (
        ([instance], [str(other) for other in others]) if not reverse else (others, [str(instance)])
    )
    for owner in owners:
        spec = WATCHED[type(owner)]
        relation = next(
            name for name in spec.relations if owner._meta.get_field(name).remote_field.through is sender
        )
        record(spec.relations[relation], target=owner, details={relation: {change: sorted(names)}})


def _through_targets(through: type[models.Model], instance: models.Model, model) -> list:
    """The ids of ``model`` that ``instance`` is related to through the m2m table ``through``."""
    links = [f for f in through._meta.concrete_fields if f.is_relation]
    source = next(f for f in links if f.related_model is type(instance))
    target = next(f for f in links if f.related_model is model)
    return list(
        through._base_manager.filter(**{source.attname: instance.pk}).values_list(target.attname, flat=True)
    )


def _values(spec: Watch, instance: models.Model) -> dict:
    values = {name: _plain(getattr(instance, name)) for name in spec.fields if name not in spec.secrets}
    if isinstance(values.get("filters"), dict):  # an export's: a search may name a person
        values["filters"] = filters(values["filters"])
    return values


def _plain(value: object) -> object:
    if isinstance(value, str):
        return value[:LONGEST_VALUE]
    if value is None or isinstance(value, bool | int | float | list | dict):
        return value
    return str(value)
