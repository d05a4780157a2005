"""Reply templates write their placeholders as every text does: {brand} → {{ brand }}, {score} →
{{ score }}, {subject} → {{ subject }}."""

import re

from django.db import migrations

OLD = re.compile(r"(?<!\{)\{(brand|subject|score)\}(?!\})")
NEW = re.compile(r"\{\{ (brand|subject|score) \}\}")


def _rewrite(apps, pattern: re.Pattern, replacement: str) -> None:
    ReplyTemplate = apps.get_model("followup", "ReplyTemplate")
    for template in ReplyTemplate.objects.only("subject", "body").iterator():
        subject, body = (pattern.sub(replacement, text) for text in (template.subject, template.body))
        if (subject, body) != (template.subject, template.body):
            template.subject, template.body = subject, body
            template.save(update_fields=["subject", "body"])


def to_one_syntax(apps, schema_editor) -> None:
    _rewrite(apps, OLD, r"{{ \1 }}")


def to_single_braces(apps, schema_editor) -> None:
    _rewrite(apps, NEW, r"{\1}")


class Migration(migrations.Migration):
    dependencies = [("followup", "0003_evaluations_and_chat_posts")]

    operations = [migrations.RunPython(to_one_syntax, to_single_braces)]
