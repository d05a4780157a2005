"""The back office's four roles: groups of permissions that every installation has and the back
office assigns. They say what a kind of person in a CX team may do; teams (``Team``) say to
which surveys. An Admin may do everything, to every survey.

``migrate`` creates a role that is missing, with the permissions below (Admin: all there are);
a role that exists is left as the installation's admins have made it.
"""

ADMIN = "Admin"  # everything: users, roles, teams, settings, every survey
CX_MANAGER = "CX manager"  # surveys, touchpoints, sending, dashboards, comments, exports
ANALYST = "Analyst"  # the product team: dashboards, comments, exports; pseudonyms, never personal data
AGENT = "Agent"  # the follow-up cases of their surveys, and read-only dashboards

# Webhooks: whoever may read answers may have them sent to their own systems.
_WEBHOOKS = [
    "webhooks.add_subscription",
    "webhooks.change_subscription",
    "webhooks.delete_subscription",
    "webhooks.view_subscription",
    "webhooks.change_message",
    "webhooks.view_message",
    "webhooks.view_delivery",
]
# Follow-up: working on cases (notes, status, replies to the customer) and tagging answers.
_CASES = [
    "followup.view_case",
    "followup.change_case",
    "followup.reply_case",
    "followup.add_caseentry",
    "followup.view_caseentry",
    "followup.view_tag",
    "followup.add_tag",
    "followup.add_responsetag",
    "followup.delete_responsetag",
    "followup.view_responsetag",
    "followup.view_replytemplate",
]
# Setting up the loop: the rules that open cases and alert, and the reply templates.
_RULES = [
    "followup.add_alertrule",
    "followup.change_alertrule",
    "followup.delete_alertrule",
    "followup.view_alertrule",
    "followup.add_replytemplate",
    "followup.change_replytemplate",
    "followup.delete_replytemplate",
    "followup.change_tag",
    "followup.delete_tag",
]
_API_TOKENS = ["surveys.add_apitoken", "surveys.view_apitoken", "surveys.delete_apitoken"]
# The themes of comments (insights): set up by CX managers, seen wherever dashboards are.
_THEMES = ["insights.add_theme", "insights.change_theme", "insights.delete_theme", "insights.view_theme"]
PERMISSIONS = {
    CX_MANAGER: [
        "surveys.add_survey",
        "surveys.change_survey",
        "surveys.view_survey",
        "surveys.send_survey",
        "surveys.add_touchpoint",
        "surveys.change_touchpoint",
        "surveys.view_touchpoint",
        "surveys.add_contact",
        "surveys.change_contact",
        "surveys.view_contact",
        "surveys.view_event",
        "surveys.change_invitation",
        "surveys.view_invitation",
        "surveys.view_response",
        "surveys.export_response",
        "surveys.add_propertylabel",
        "surveys.change_propertylabel",
        "surveys.delete_propertylabel",
        "surveys.view_propertylabel",
        *_API_TOKENS,
        *_WEBHOOKS,
        *_CASES,
        *_RULES,
        *_THEMES,
    ],
    ANALYST: [
        "surveys.view_survey",
        "surveys.view_touchpoint",
        "surveys.view_response",
        "surveys.export_response",
        "followup.view_case",
        "followup.view_caseentry",
        "followup.view_tag",
        "followup.add_tag",
        "followup.add_responsetag",
        "followup.delete_responsetag",
        "followup.view_responsetag",
        "insights.view_theme",
        *_API_TOKENS,
        *_WEBHOOKS,
    ],
    AGENT: [
        "surveys.view_survey",
        "surveys.view_touchpoint",
        "surveys.view_response",
        "insights.view_theme",
        *_CASES,
    ],
}


def ensure_roles(*, using: str = "default", apps=None, **kwargs) -> None:
    """Create the roles that are missing (after ``migrate``, and after a test database is flushed).
    Nothing while the database is migrated back to before teams and roles (``apps``)."""
    from django.apps import apps as installed
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    if apps is not None and "auth" not in apps.app_configs:
        return
    # Django creates an app's permissions after its own migrations; the roles need all of them.
    for app_config in installed.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    groups = Group.objects.using(using)
    if not groups.filter(name=ADMIN).exists():
        groups.create(name=ADMIN).permissions.set(Permission.objects.using(using).all())
    for role, names in PERMISSIONS.items():
        if groups.filter(name=role).exists():
            continue
        codenames = [name.partition(".")[2] for name in names]
        candidates = Permission.objects.using(using).filter(codename__in=codenames)
        found = [
            permission
            for permission in candidates.select_related("content_type")
            if _name(permission) in names
        ]
        groups.create(name=role).permissions.set(found)


def _name(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"
