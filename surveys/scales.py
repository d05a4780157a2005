"""The three survey kinds: their scales, categories and default wording.

Pure data, no ORM: the database constraint on response scores, the answering
forms, the widget and the metrics all read their numbers from here. Wording is
from the product brief and must stay word for word; its placeholders are written
as in every text ({{ brand }}, see ``surveys.texts``).
"""

from dataclasses import dataclass

LANGUAGES = ("de", "en")


@dataclass(frozen=True)
class Category:
    code: str
    low: int
    high: int


@dataclass(frozen=True)
class Scale:
    kind: str
    low: int
    high: int
    categories: tuple[Category, ...]
    # Per language: the label of every point, or only of both ends.
    labels: dict[str, tuple[str, ...]]
    question: dict[str, str]

    @property
    def points(self) -> range:
        return range(self.low, self.high + 1)

    def category(self, score: int) -> str:
        for category in self.categories:
            if category.low <= score <= category.high:
                return category.code
        raise ValueError(f"{score} is outside the {self.kind} scale {self.low}–{self.high}")

    def category_range(self, code: str) -> tuple[int, int] | None:
        """The lowest and highest score of the category ``code``; None if this scale has no such category."""
        for category in self.categories:
            if category.code == code:
                return category.low, category.high
        return None

    def end_labels(self, language: str) -> tuple[str, str]:
        labels = self.labels[language]
        return labels[0], labels[-1]

    def point_labels(self, language: str) -> dict[int, str]:
        """Labels for the points that have one (all for CSAT/CES, the ends for NPS)."""
        labels = self.labels[language]
        if len(labels) == len(self.points):
            return dict(zip(self.points, labels, strict=True))
        return {self.low: labels[0], self.high: labels[-1]}


NPS = Scale(
    kind="nps",
    low=0,
    high=10,
    categories=(
        Category("detractor", 0, 6),
        Category("passive", 7, 8),
        Category("promoter", 9, 10),
    ),
    labels={
        "en": ("Not at all likely", "Extremely likely"),
        "de": ("Äußerst unwahrscheinlich", "Äußerst wahrscheinlich"),
    },
    question={
        "en": "How likely are you to recommend {{ brand }} to a friend or colleague?",
        "de": "Wie wahrscheinlich ist es, dass Sie {{ brand }} einem Freund oder Kollegen weiterempfehlen?",
    },
)

CSAT = Scale(
    kind="csat",
    low=1,
    high=5,
    categories=(
        Category("dissatisfied", 1, 2),
        Category("neutral", 3, 3),
        Category("satisfied", 4, 5),
    ),
    labels={
        "en": (
            "Very dissatisfied",
            "Dissatisfied",
            "Neutral",
            "Satisfied",
            "Very satisfied",
        ),
        "de": (
            "Sehr unzufrieden",
            "Unzufrieden",
            "Neutral",
            "Zufrieden",
            "Sehr zufrieden",
        ),
    },
    question={
        "en": "How satisfied were you with {{ subject }}?",
        "de": "Wie zufrieden waren Sie mit {{ subject }}?",
    },
)

CES = Scale(
    kind="ces",
    low=1,
    high=7,
    categories=(
        Category("difficult", 1, 3),
        Category("neutral", 4, 4),
        Category("easy", 5, 7),
    ),
    labels={
        "en": (
            "Strongly disagree",
            "Disagree",
            "Somewhat disagree",
            "Neither agree nor disagree",
            "Somewhat agree",
            "Agree",
            "Strongly agree",
        ),
        "de": (
            "Stimme überhaupt nicht zu",
            "Stimme nicht zu",
            "Stimme eher nicht zu",
            "Weder noch",
            "Stimme eher zu",
            "Stimme zu",
            "Stimme voll und ganz zu",
        ),
    },
    question={
        "en": "{{ brand }} made it easy for me to handle my issue.",
        "de": "{{ brand }} hat es mir leicht gemacht, mein Anliegen zu erledigen.",
    },
)

SCALES = {scale.kind: scale for scale in (NPS, CSAT, CES)}

DEFAULT_FOLLOW_UP = {
    "en": "What is the most important reason for your score?",
    "de": "Was ist der wichtigste Grund für Ihre Bewertung?",
}
DEFAULT_THANK_YOU = {
    "en": "Thank you for your feedback!",
    "de": "Vielen Dank für Ihr Feedback!",
}
DEFAULT_SUBJECT = {"en": "our service", "de": "unserem Service"}
DEFAULT_EMAIL_SUBJECT = {
    "en": "{{ brand }}: a quick question",
    "de": "{{ brand }}: eine kurze Frage",
}
DEFAULT_EMAIL_INTRO = {
    "en": "We would like to know how we are doing. Your answer takes one click.",
    "de": "Wir möchten wissen, wie zufrieden Sie mit uns sind. Ihre Antwort kostet nur einen Klick.",
}

# The texts a survey may word itself; "" in its column means the standard wording below.
TEXTS = ("subject", "question", "follow_up", "thank_you", "email_subject", "email_intro")
_STANDARD = {
    "subject": DEFAULT_SUBJECT,
    "follow_up": DEFAULT_FOLLOW_UP,
    "thank_you": DEFAULT_THANK_YOU,
    "email_subject": DEFAULT_EMAIL_SUBJECT,
    "email_intro": DEFAULT_EMAIL_INTRO,
}


def standard_text(kind: str, text: str, language: str) -> str:
    """The standard wording of ``text`` (one of TEXTS) for a survey of ``kind``, placeholders
    unfilled: what a survey says while its own column is empty."""
    if text == "question":
        return SCALES[kind].question[language]
    return _STANDARD[text][language]
