"""The installation's legal information, each survey's own return URL, and contacts' consent records.

``LegalInformation`` is one row (id 1) that Admins fill in the back office: the company's legal
name, postal address, privacy notice and Impressum per language, and the default return URL of
the thank-you pages. ``ConsentRecord`` keeps every legal basis stated for a contact, with the
wording the person was shown, when they agreed, where it came from and who recorded it.

SQLite cannot add the survey's column in place: Django rebuilds the surveys table, which breaks
the triggers that keep the dashboards' tallies (migration 0006). They are dropped before and
created again after, both ways, as in migration 0008; PostgreSQL keeps them.
"""

from importlib import import_module

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import surveys.models.legal

signed_identities = import_module("surveys.migrations.0008_signed_identities")


def let_admins_edit_legal_information(apps, schema_editor) -> None:
    """The Admin role may do everything (surveys.roles): a new one gets every permission when
    ``migrate`` makes it, an existing one gets those of the legal information here."""
    database = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    admins = Group.objects.using(database).filter(name="Admin").first()
    if admins is None:
        return
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    content_type, _made = ContentType.objects.using(database).get_or_create(
        app_label="surveys", model="legalinformation"
    )
    for action in ("view", "change"):
        permission, _made = Permission.objects.using(database).get_or_create(
            content_type=content_type,
            codename=f"{action}_legalinformation",
            defaults={"name": f"Can {action} legal information"},
        )
        admins.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0010_tallies_counted_at_commit"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(
            signed_identities.drop_sqlite_triggers, signed_identities.create_sqlite_triggers
        ),
        migrations.AddField(
            model_name="survey",
            name="return_url",
            field=models.URLField(
                blank=True,
                help_text="Where the thank-you page leads back to. Empty: the return URL of the legal information.",
                max_length=500,
                validators=[surveys.models.legal.validate_web_url],
                verbose_name="return URL",
            ),
        ),
        migrations.CreateModel(
            name="LegalInformation",
            fields=[
                (
                    "id",
                    models.PositiveSmallIntegerField(
                        default=1, editable=False, primary_key=True, serialize=False
                    ),
                ),
                (
                    "company_name_de",
                    models.CharField(
                        blank=True,
                        help_text="As in the Impressum, e.g. “Kessler Haustechnik GmbH”.",
                        max_length=200,
                        verbose_name="legal name of the company (German)",
                    ),
                ),
                (
                    "company_name_en",
                    models.CharField(
                        blank=True, max_length=200, verbose_name="legal name of the company (English)"
                    ),
                ),
                (
                    "address_de",
                    models.TextField(
                        blank=True,
                        help_text="Shown in every email. One line per line of the address.",
                        max_length=500,
                        verbose_name="postal address (German)",
                    ),
                ),
                (
                    "address_en",
                    models.TextField(blank=True, max_length=500, verbose_name="postal address (English)"),
                ),
                (
                    "privacy_url_de",
                    models.URLField(
                        blank=True,
                        max_length=500,
                        validators=[surveys.models.legal.validate_web_url],
                        verbose_name="privacy notice URL (German)",
                    ),
                ),
                (
                    "privacy_url_en",
                    models.URLField(
                        blank=True,
                        max_length=500,
                        validators=[surveys.models.legal.validate_web_url],
                        verbose_name="privacy notice URL (English)",
                    ),
                ),
                (
                    "impressum_url_de",
                    models.URLField(
                        blank=True,
                        max_length=500,
                        validators=[surveys.models.legal.validate_web_url],
                        verbose_name="Impressum URL (German)",
                    ),
                ),
                (
                    "impressum_url_en",
                    models.URLField(
                        blank=True,
                        max_length=500,
                        validators=[surveys.models.legal.validate_web_url],
                        verbose_name="Impressum URL (English)",
                    ),
                ),
                (
                    "return_url",
                    models.URLField(
                        blank=True,
                        help_text="Where the thank-you pages lead back to, e.g. your shop's home page. A survey may name its own.",
                        max_length=500,
                        validators=[surveys.models.legal.validate_web_url],
                        verbose_name="return URL",
                    ),
                ),
                (
                    "updated_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="updated"
                    ),
                ),
            ],
            options={
                "verbose_name": "legal information",
                "verbose_name_plural": "legal information",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="legal_information_one_row")
                ],
            },
        ),
        migrations.CreateModel(
            name="ConsentRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "legal_basis",
                    models.CharField(
                        choices=[
                            ("none", "none recorded"),
                            ("consent", "consent"),
                            ("customer", "existing customer (§ 7(3) UWG)"),
                        ],
                        max_length=8,
                        verbose_name="legal basis",
                    ),
                ),
                (
                    "text",
                    models.TextField(blank=True, max_length=2000, verbose_name="wording shown to the person"),
                ),
                (
                    "language",
                    models.CharField(
                        blank=True,
                        choices=[("de", "German"), ("en", "English")],
                        max_length=2,
                        verbose_name="language",
                    ),
                ),
                ("given_at", models.DateTimeField(verbose_name="given")),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("events_api", "events API"),
                            ("contacts_api", "contacts API"),
                            ("upload", "contact upload"),
                            ("back_office", "back office"),
                        ],
                        max_length=16,
                        verbose_name="source",
                    ),
                ),
                (
                    "recorded_at",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="recorded"
                    ),
                ),
                (
                    "contact",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consent_records",
                        to="surveys.contact",
                        verbose_name="contact",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="recorded by",
                    ),
                ),
            ],
            options={
                "verbose_name": "consent record",
                "verbose_name_plural": "consent records",
                "ordering": ["-recorded_at", "-id"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("legal_basis__in", ["none", "consent", "customer"])),
                        name="consent_record_legal_basis_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("language__in", ["", "de", "en"])),
                        name="consent_record_language_valid",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("source__in", ["events_api", "contacts_api", "upload", "back_office"])
                        ),
                        name="consent_record_source_valid",
                    ),
                    models.CheckConstraint(
                        condition=django.db.models.lookups.LessThanOrEqual(
                            django.db.models.functions.text.Length("text"), 2000
                        ),
                        name="consent_record_text_length",
                    ),
                ],
            },
        ),
        migrations.RunPython(
            signed_identities.create_sqlite_triggers, signed_identities.drop_sqlite_triggers
        ),
        migrations.RunPython(let_admins_edit_legal_information, migrations.RunPython.noop),
    ]
