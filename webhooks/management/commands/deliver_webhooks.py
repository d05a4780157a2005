"""``manage.py deliver_webhooks``: deliver the webhook messages that are due, once.

Celery's beat does this every few seconds; without a broker, ``manage.py runtasks``
(started by ``make run``) runs the same task.
"""

from django.core.management.base import BaseCommand

from webhooks.delivery import deliver_due


class Command(BaseCommand):
    help = "Deliver the webhook messages that are due."

    def handle(self, **options) -> None:
        report = deliver_due()
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.items()))
        self.stdout.write(summary or "Nothing was due.")
