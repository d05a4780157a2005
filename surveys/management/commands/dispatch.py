"""``manage.py dispatch``: send the invitations and reminders that are due, once.

Celery's beat starts the same work every few seconds; without a broker, ``manage.py runtasks``
(started by ``make run``) does.
"""

from django.core.management.base import BaseCommand

from surveys.email.dispatch import dispatch_due


class Command(BaseCommand):
    help = "Send the invitations and reminders that are due."

    def handle(self, **options) -> None:
        report = dispatch_due()
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.items()))
        self.stdout.write(summary or "Nothing was due.")
