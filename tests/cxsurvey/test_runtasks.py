import pytest
from celery import current_app
from django.core import mail
from django.core.management import call_command

from cxsurvey.management.commands import runtasks
from surveys.models import Invitation
from tests.factories import make_due_invitation, make_touchpoint

pytestmark = pytest.mark.django_db


class EndOfLoop(Exception):
    pass


@pytest.fixture
def one_round(monkeypatch):
    """The loop stops where it would sleep after its first round."""

    def stop(seconds):
        raise EndOfLoop

    monkeypatch.setattr(runtasks.time, "sleep", stop)


def test_the_command_runs_the_celery_apps_beat_schedule(one_round, settings):
    """Without a broker, ``runtasks`` does what Celery's beat and a worker would."""
    assert current_app.conf.beat_schedule == settings.CELERY_BEAT_SCHEDULE
    make_due_invitation()
    with pytest.raises(EndOfLoop):
        call_command("runtasks")
    assert len(mail.outbox) == 1


def test_the_loop_runs_every_periodic_task_by_name_and_survives_a_failing_one(one_round, monkeypatch):
    make_due_invitation()
    schedule = {
        "broken": {"task": "no.such.task", "schedule": 60.0},
        "dispatch": {"task": "surveys.tasks.dispatch", "schedule": 10.0},
    }
    failed = []
    monkeypatch.setattr(runtasks.logger, "exception", lambda message, name: failed.append(name))
    with pytest.raises(EndOfLoop):
        runtasks.run_schedule(schedule, app=current_app)
    assert len(mail.outbox) == 1
    assert failed == ["broken"]


def test_a_backlog_larger_than_a_batch_goes_out_before_the_loop_first_sleeps(one_round):
    touchpoint = make_touchpoint()
    for _ in range(25):
        make_due_invitation(touchpoint)
    schedule = {
        "dispatch": {"task": "surveys.tasks.dispatch", "schedule": 10.0, "kwargs": {"batch_size": 10}}
    }
    with pytest.raises(EndOfLoop):
        runtasks.run_schedule(schedule, app=current_app)
    assert len(mail.outbox) == 25
    assert set(Invitation.objects.values_list("status", flat=True)) == {"sent"}
