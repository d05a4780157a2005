from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """Read and act: dashboards, verbatims, exports. Reads what ``surveys`` collects."""

    name = "feedback"
    verbose_name = "Feedback"
