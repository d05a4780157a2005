"""deploy/: the compose file's services wait for what they need and run what exists, and the image's
commands name modules, commands and URLs of the project. No container engine is needed to read them."""

import json
import re
from importlib.util import find_spec
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

PROJECT = Path(__file__).resolve().parent.parent
DEPLOY = PROJECT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages = [i for i, line in enumerate(lines) if line.startswith("FROM ")]
    return [tuple(line.split(" ", 1)) for line in lines[stages[-1] :]]  # type: ignore[misc]


def runs_something_that_exists(command: list[str]) -> bool:
    if command[:2] == ["python", "manage.py"]:
        return command[2] in get_commands()
    if command[0] == "celery":
        app = command[command.index("-A") + 1]
        return find_spec(f"{app}.celery") is not None
    if command[0] == "gunicorn":
        return find_spec(command[1]) is not None
    return False


def test_compose_runs_the_app_beside_postgresql_and_redis(compose):
    assert set(compose["services"]) == {"migrate", "web", "worker", "beat", "db", "redis"}
    for name in ("migrate", "web", "worker", "beat"):
        assert compose["services"][name]["image"] == "cxsurvey"


def test_each_service_waits_for_what_it_needs(compose):
    services = compose["services"]
    for name, service in services.items():
        for needed, condition in service.get("depends_on", {}).items():
            assert needed in services, f"{name} waits for {needed}, which does not exist"
            if condition["condition"] == "service_healthy":
                assert "test" in services[needed]["healthcheck"], f"{needed} has no health check"
            else:
                assert (needed, condition["condition"]) == ("migrate", "service_completed_successfully")
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_every_command_runs_something_that_exists(compose):
    for name in ("migrate", "worker", "beat"):
        assert runs_something_that_exists(compose["services"][name]["command"]), name
    command = dict(dockerfile_instructions())["CMD"]
    assert runs_something_that_exists(json.loads(command))


def test_the_app_gets_only_variables_that_the_settings_read(compose):
    settings = (PROJECT / "cxsurvey" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', settings))
    given = set(compose["x-app"]["environment"])
    assert given <= read, f"not read by the settings: {given - read}"


def test_the_image_keeps_exports_where_compose_mounts_the_shared_volume(compose):
    instructions = dockerfile_instructions()
    media_root = re.search(r"MEDIA_ROOT=(\S+)", dict(instructions)["ENV"])
    assert media_root is not None
    assert f"media:{media_root.group(1)}" in compose["x-app"]["volumes"]


def test_the_image_runs_as_a_user_and_checks_its_health_at_healthz():
    instructions = dict(dockerfile_instructions())
    assert not instructions["USER"].startswith(("0", "root"))
    url = re.search(r"http://127\.0\.0\.1:8000(/\w+)", instructions["HEALTHCHECK"])
    assert url is not None
    assert resolve(url.group(1)).url_name == "healthz"
