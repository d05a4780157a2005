"""``manage.py seed_demo``: a believable demo company with 18 months of feedback.

Nordwind Möbel, a German furniture web shop with showrooms, asks for NPS after
deliveries, showroom visits and once a quarter, for CSAT after support contacts
and for CES after returns. The data carries the stories a CX manager should be
able to find: a gentle improvement, a Christmas rush with lower scores, a carrier
failure one February, Swiss customers waiting for customs, and deliveries pulling
NPS down.

All content comes from one ``random.Random(seed)``: a seed gives the same company
relative to today. Tokens and public ids are the exception and stay secret-random,
because a demo installation may well be reachable from the internet.

The demo superuser's password is public (``cxsurvey-demo``), so the command seeds only
with DEBUG on. With DEBUG off it refuses unless given ``--force-demo-user``, and then the
demo user gets a random password, printed once on the last line.
"""

import random
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from surveys.models import (
    Contact,
    Invitation,
    LegalBasis,
    PropertyLabel,
    Response,
    Survey,
    Touchpoint,
    normalise_origin,
)
from surveys.scales import Scale
from surveys.signals import demo_seeded
from surveys.terms import comment_fields

BRAND = "Nordwind Möbel"
ACCENT_COLOR = "#1f5f7a"
DEMO_USERNAME = "demo"
# Public on purpose, and so only for development (DEBUG on): the command prints it, and the
# README names it. Outside DEBUG the demo user gets a random password instead.
DEMO_PASSWORD = "cxsurvey-demo"  # noqa: S105
DAYS = 548  # 18 months
BATCH_SIZE = 2000
# A scale's three categories, worst first, name the tone of a comment.
TONES = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class SurveySpec:
    kind: str
    name: str
    base: float  # mean satisfaction on a 0–1 scale before any effect
    subject_de: str = ""
    subject_en: str = ""


@dataclass(frozen=True)
class TouchpointSpec:
    slug: str
    name: str
    kind: str
    weight: int  # share of all responses
    shift: float  # better (+) or worse (−) than its survey's base
    response_rate: float
    topics: tuple[str, ...]
    reference: str  # the event property the shop's systems send along
    hit_by_carrier: bool = False


SURVEYS = (
    SurveySpec("nps", "Nordwind: Weiterempfehlung (NPS)", 0.76),
    SurveySpec(
        "csat", "Nordwind: Kundenservice (CSAT)", 0.74, "unserem Kundenservice", "our customer service"
    ),
    SurveySpec("ces", "Nordwind: Retouren (CES)", 0.70),
)
BASE_SATISFACTION = {spec.kind: spec.base for spec in SURVEYS}
TOUCHPOINTS = (
    TouchpointSpec("order-delivered", "Bestellung zugestellt", "nps", 30, -0.04, 0.30,
                   ("delivery", "assembly", "quality"), "order_id", hit_by_carrier=True),
    TouchpointSpec("quarterly-relationship", "Quartalsbefragung", "nps", 14, 0.0, 0.22,
                   ("quality", "price", "website", "service"), ""),
    TouchpointSpec("showroom-visit", "Besuch im Showroom", "nps", 10, 0.05, 0.36,
                   ("showroom", "quality", "price"), "showroom"),
    TouchpointSpec("support-ticket-closed", "Support-Ticket geschlossen", "csat", 18, 0.0, 0.38,
                   ("service",), "ticket_id"),
    TouchpointSpec("live-chat-ended", "Chat beendet", "csat", 10, 0.03, 0.33,
                   ("service", "website"), "chat_id"),
    TouchpointSpec("return-processed", "Retoure abgeschlossen", "ces", 18, -0.02, 0.34,
                   ("returns", "website", "delivery"), "return_id", hit_by_carrier=True),
)  # fmt: skip
CHANNELS = ((Response.Channel.EMAIL, 72), (Response.Channel.LINK, 14), (Response.Channel.WIDGET, 14))
PUBLIC_PROPERTIES: dict[str, dict[str, str]] = {
    Response.Channel.LINK: {"campaign": "newsletter"},
    Response.Channel.WIDGET: {"page": "/konto"},
}
# Segments as (value, weight, effect on satisfaction). Swiss orders wait at customs;
# "pro" are trade customers (offices, hotels) with their own account manager.
REGIONS = (("DE", 78, 0.0), ("AT", 12, 0.01), ("CH", 10, -0.06))
PLANS = (("basic", 60, -0.02), ("plus", 30, 0.0), ("pro", 10, 0.04))
# The contact properties the segments above live in: tallied for quick dashboard filters.
SEGMENT_PROPERTIES = ("plan", "region")
# What the company calls its properties, as a CX manager would set them in the back office.
PROPERTY_LABELS = (
    ("plan", "Tarif", "Plan"),
    ("region", "Region", "Region"),
    ("customer_since", "Kunde seit", "Customer since"),
    ("language", "Sprache", "Language"),
    ("campaign", "Kampagne", "Campaign"),
    ("showroom", "Showroom", "Showroom"),
    ("page", "Seite", "Page"),
    ("order_id", "Bestellnummer", "Order number"),
    ("return_id", "Retourennummer", "Return number"),
    ("ticket_id", "Ticketnummer", "Ticket number"),
    ("chat_id", "Chat-Nummer", "Chat number"),
)
SEGMENT_EFFECT = {value: effect for value, _, effect in (*REGIONS, *PLANS)}
# Orders per calendar month, January first: a Christmas peak and a quiet summer.
SEASON = (1.15, 1.0, 1.0, 0.95, 0.9, 0.85, 0.85, 0.9, 1.0, 1.05, 1.3, 1.7)
SHOWROOMS = ("Hamburg", "Berlin", "München", "Köln", "Düsseldorf", "Wien", "Zürich")
DOMAINS = ("example.com", "example.org")

FIRST_NAMES = {
    "de": ("Anna", "Lukas", "Sophie", "Jonas", "Marie", "Felix", "Lena", "Paul", "Hannah", "Leon", "Julia",
           "Maximilian", "Katharina", "Tobias", "Jürgen", "Jörg", "Sören", "Björn", "Günther", "Käthe",
           "Elif", "Emre", "Ursula", "Matthias", "Sabine", "Andreas", "Claudia", "Stefan", "Petra", "Mia"),
    "en": ("Emma", "Oliver", "Charlotte", "James", "Amelia", "George", "Olivia", "Harry", "Grace", "Jack",
           "Sarah", "Daniel", "Emily", "Thomas", "Chloe", "William"),
}  # fmt: skip
LAST_NAMES = {
    "de": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
           "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
           "Zimmermann", "Krüger", "Hartmann", "Lange", "Weiß", "Köhler", "Öztürk", "Gruber", "Huber",
           "Steiner", "Brunner", "Heß", "Jäger", "Vogel"),
    "en": ("Smith", "Jones", "Taylor", "Brown", "Wilson", "Evans", "Walker", "Wright", "Robinson",
           "Thompson", "Hughes", "Clarke"),
}  # fmt: skip
ASCII_EMAIL = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})

# Comments are an opener, one or two topic sentences and sometimes a closer, all
# of the tone of the score, so the verbatims read like many different customers.
OPENERS: dict[str, dict[str, tuple[str, ...]]] = {
    "negative": {
        "de": ("Leider war ich enttäuscht.", "Ehrlich gesagt: so nicht.", "Das war ärgerlich.",
               "Ich bin unzufrieden.", "Schade, eigentlich mag ich Nordwind."),
        "en": ("Honestly, I was disappointed.", "Not good this time.", "This was frustrating.",
               "I am unhappy.", "A pity, I used to like Nordwind."),
    },
    "neutral": {
        "de": ("Insgesamt in Ordnung.", "Geht so.", "Teils gut, teils weniger.",
               "Im Großen und Ganzen okay."),
        "en": ("Overall it was fine.", "So-so.", "Some good, some not so good.", "Mostly okay."),
    },
    "positive": {
        "de": ("Super!", "Rundum zufrieden.", "Sehr gerne wieder.", "Ich bin begeistert.",
               "Top, vielen Dank!"),
        "en": ("Great!", "Really happy.", "Would buy again any time.", "I'm delighted.",
               "Excellent, thank you!"),
    },
}  # fmt: skip
# language → topic → (negative, neutral, positive)
TOPICS = {
    "de": {
        "delivery": (
            "Die Lieferung kam zwei Wochen später als versprochen.",
            "Pünktlich, aber das Lieferfenster war viel zu groß.",
            "Die Lieferung war pünktlich und die Fahrer sehr freundlich.",
        ),
        "assembly": (
            "Beim Aufbau fehlten Schrauben und die Anleitung ist unverständlich.",
            "Der Aufbau dauerte länger als gedacht, ging aber.",
            "Dank guter Anleitung stand der Schrank in einer Stunde.",
        ),
        "quality": (
            "Das Sofa hatte schon beim Auspacken einen Kratzer.",
            "Die Qualität ist okay, für den Preis hätte ich mehr erwartet.",
            "Der Tisch ist massiv, schön verarbeitet und genau wie abgebildet.",
        ),
        "service": (
            "Beim Kundenservice hing ich ewig in der Warteschleife.",
            "Der Kundenservice war freundlich, ich musste aber zweimal nachfragen.",
            "Der Kundenservice hat mein Problem sofort gelöst.",
        ),
        "returns": (
            "Die Rücksendung war kompliziert und die Erstattung dauert Wochen.",
            "Die Retoure klappte, nur ein Abholtermin war schwer zu bekommen.",
            "Mit dem Online-Formular war die Retoure in fünf Minuten erledigt.",
        ),
        "price": (
            "Für diese Preise erwarte ich deutlich mehr.",
            "Die Preise sind fair, aber nicht günstig.",
            "Preis und Leistung stimmen absolut.",
        ),
        "website": (
            "Die Website ist langsam und der Warenkorb hat sich zweimal geleert.",
            "Die Website ist übersichtlich, die Filter könnten besser sein.",
            "Auf der Website findet man schnell, was man sucht.",
        ),
        "showroom": (
            "Im Showroom hatte niemand Zeit für eine Beratung.",
            "Der Showroom ist schön, aber viele Stücke waren nicht ausgestellt.",
            "Die Beratung im Showroom war kompetent und ganz ohne Druck.",
        ),
    },
    "en": {
        "delivery": (
            "The delivery came two weeks later than promised.",
            "On time, but the delivery window was far too wide.",
            "Delivery was on time and the drivers very friendly.",
        ),
        "assembly": (
            "Screws were missing and the instructions make no sense.",
            "Assembly took longer than expected, but it worked.",
            "Thanks to clear instructions the wardrobe stood in an hour.",
        ),
        "quality": (
            "The sofa already had a scratch when I unpacked it.",
            "Quality is okay, I expected more for the price.",
            "The table is solid, well made and exactly as pictured.",
        ),
        "service": (
            "I was on hold with customer service forever.",
            "Customer service was friendly, but I had to ask twice.",
            "Customer service solved my problem right away.",
        ),
        "returns": (
            "The return was complicated and the refund takes weeks.",
            "The return worked, only a pick-up date was hard to get.",
            "The online form made the return a five-minute job.",
        ),
        "price": (
            "At these prices I expect a lot more.",
            "Prices are fair, though not cheap.",
            "Great value for money.",
        ),
        "website": (
            "The website is slow and my basket emptied itself twice.",
            "The website is clear, the filters could be better.",
            "The website makes it easy to find what you need.",
        ),
        "showroom": (
            "Nobody in the showroom had time to advise me.",
            "The showroom is nice, but many pieces were not on display.",
            "The advice in the showroom was expert and without pressure.",
        ),
    },
}
CLOSERS: dict[str, dict[str, tuple[str, ...]]] = {
    "negative": {
        "de": ("So bestelle ich nicht wieder.", "Bitte verbessern Sie das.", "Ich erwarte eine Rückmeldung."),
        "en": ("I won't order again like this.", "Please fix this.", "I expect to hear back from you."),
    },
    "neutral": {
        "de": ("Da ist noch Luft nach oben.", "Beim nächsten Mal hoffentlich besser."),
        "en": ("There is room for improvement.", "Hopefully better next time."),
    },
    "positive": {
        "de": ("Weiter so!", "Ich empfehle Nordwind gern weiter.", "Danke an das ganze Team."),
        "en": ("Keep it up!", "I happily recommend Nordwind.", "Thanks to the whole team."),
    },
}  # fmt: skip


def _tone(scale: Scale, score: int) -> str:
    """The tone of a comment that fits the score: its category's place on the scale."""
    codes = [category.code for category in scale.categories]
    return TONES[codes.index(scale.category(score))]


@dataclass(frozen=True)
class Timeline:
    """The 18 months up to yesterday, with how busy each day was."""

    days: tuple[date, ...]
    weights: tuple[float, ...]
    carrier_failure: tuple[int, int]  # (year, month)

    @classmethod
    def ending_before(cls, today: date) -> "Timeline":
        days = tuple(today - timedelta(days=back) for back in range(DAYS, 0, -1))
        # The shop grows by half over the period, follows the seasons and delivers no parcels on Sundays
        # (some customers still answer).
        weights = tuple(
            (0.8 + 0.4 * index / (DAYS - 1)) * SEASON[day.month - 1] * (0.6 if day.weekday() == 6 else 1.0)
            for index, day in enumerate(days)
        )
        # The latest February before this month: always inside the 18 months, never unfinished.
        failure_year = today.year if today.month > 2 else today.year - 1
        return cls(days=days, weights=weights, carrier_failure=(failure_year, 2))

    @property
    def set_up_at(self) -> datetime:
        """When the surveys went live: two weeks before the first day shown, so that every
        invitation, sent up to two weeks before its answer, is younger than its survey."""
        return self.moment(self.days[0] - timedelta(days=15), 0)

    def progress(self, day: date) -> float:
        """0 on the first day, 1 on the last."""
        return (day - self.days[0]).days / (len(self.days) - 1)

    def moment(self, day: date, seconds: int) -> datetime:
        """From 07:00 local time on: people answer while awake, and 02:00–03:00 would not
        exist on the day daylight saving starts."""
        start = datetime.combine(day, time(7), tzinfo=timezone.get_current_timezone())
        return start + timedelta(seconds=seconds)

    def sample(self, rng: random.Random, count: int) -> list[datetime]:
        days = rng.choices(self.days, weights=self.weights, k=count)
        return [self.moment(day, rng.randrange(15 * 3600)) for day in days]

    def satisfaction_effect(self, spec: TouchpointSpec, day: date) -> float:
        """Steady improvement, a strained December, and the February the carrier failed."""
        effect = 0.08 * self.progress(day)
        if day.month == 12:
            effect -= 0.05
        if (day.year, day.month) == self.carrier_failure:
            effect -= 0.18 if spec.hit_by_carrier else 0.04
        return effect


class DemoCompany:
    """Builds the contacts, invitations and responses of one company, all from one ``rng``."""

    def __init__(self, rng: random.Random, timeline: Timeline) -> None:
        self.rng = rng
        self.timeline = timeline
        self.surveys: dict[str, Survey] = {}
        self.touchpoints: dict[str, Touchpoint] = {}
        self.contacts: list[Contact] = []

    def create_surveys(self) -> None:
        """One survey per kind; the widget may be embedded on this installation's own site."""
        parts = urlsplit(settings.SITE_URL)
        origin = normalise_origin(f"{parts.scheme}://{parts.netloc}") or ""
        for spec in SURVEYS:
            self.surveys[spec.kind] = Survey.objects.create(
                kind=spec.kind,
                name=spec.name,
                brand=BRAND,
                subject_de=spec.subject_de,
                subject_en=spec.subject_en,
                accent_color=ACCENT_COLOR,
                widget_origins=origin,
                dashboard_properties=list(SEGMENT_PROPERTIES),
                created_at=self.timeline.set_up_at,
            )

    def create_touchpoints(self) -> None:
        for spec in TOUCHPOINTS:
            self.touchpoints[spec.slug] = Touchpoint.objects.create(
                slug=spec.slug,
                name=spec.name,
                survey=self.surveys[spec.kind],
                created_at=self.timeline.set_up_at,
            )

    def create_contacts(self, count: int) -> None:
        self.contacts = [self._contact(number) for number in range(1, count + 1)]
        Contact.objects.bulk_create(self.contacts, batch_size=BATCH_SIZE)

    def _contact(self, number: int) -> Contact:
        rng = self.rng
        language = "en" if rng.random() < 0.12 else "de"
        first, last = rng.choice(FIRST_NAMES[language]), rng.choice(LAST_NAMES[language])
        local_part = f"{first}.{last}".lower().translate(ASCII_EMAIL)
        start = self.timeline.set_up_at
        return Contact(
            email=f"{local_part}.{number}@{rng.choice(DOMAINS)}",
            name=f"{first} {last}",
            language=language,
            properties={
                "plan": _pick(rng, PLANS),
                "region": _pick(rng, REGIONS),
                "customer_since": str(int(rng.triangular(2012, start.year + 1, start.year + 1))),
                "language": language,
            },
            # Every one has bought from the shop: asking them, and answering them, is allowed.
            legal_basis=LegalBasis.CUSTOMER,
            created_at=start,
            updated_at=start,
        )

    def create_answers(self, count: int) -> tuple[int, int]:
        """Responses and the invitations behind them; returns (invitations, responses)."""
        specs = self.rng.choices(TOUCHPOINTS, weights=[spec.weight for spec in TOUCHPOINTS], k=count)
        moments = self.timeline.sample(self.rng, count)
        responses = [self._response(spec, moment) for spec, moment in zip(specs, moments, strict=True)]
        answered = [response.invitation for response in responses if response.invitation]
        per_touchpoint = Counter(invitation.touchpoint.slug for invitation in answered)
        invitations = answered + self._unanswered(per_touchpoint)
        Invitation.objects.bulk_create(invitations, batch_size=BATCH_SIZE)
        Response.objects.bulk_create(responses, batch_size=BATCH_SIZE)
        return len(invitations), len(responses)

    def _response(self, spec: TouchpointSpec, moment: datetime) -> Response:
        rng = self.rng
        survey = self.surveys[spec.kind]
        channel = _pick(rng, CHANNELS)
        is_email = channel == Response.Channel.EMAIL
        # Link and widget answers may come without an identity; email ones never do.
        contact = rng.choice(self.contacts) if is_email or rng.random() < 0.7 else None
        language = contact.language if contact else ("en" if rng.random() < 0.12 else "de")
        properties = contact.properties if contact else {}
        mood = self._mood(spec, properties, moment.date())
        score = _score(rng, survey.scale, mood)
        invitation = (
            self._invitation(spec, contact, moment, answered_at=moment) if is_email and contact else None
        )
        comment = self._comment(spec, survey.scale, score, language, moment.date())
        return Response(
            survey=survey,
            kind=survey.kind,
            touchpoint=self.touchpoints[spec.slug] if is_email else None,
            invitation=invitation,
            contact=contact,
            channel=channel,
            score=score,
            comment=comment,
            **comment_fields(comment, language),
            language=language,
            contact_properties=properties,
            event_properties=invitation.properties if invitation else PUBLIC_PROPERTIES[channel],
            created_at=moment,
            updated_at=moment,
        )

    def _mood(self, spec: TouchpointSpec, properties: dict, day: date) -> float:
        """Mean satisfaction (0–1) of this kind of answer; anonymous answers have no segment."""
        segments = sum(SEGMENT_EFFECT[properties[name]] for name in SEGMENT_PROPERTIES if name in properties)
        return (
            BASE_SATISFACTION[spec.kind]
            + spec.shift
            + segments
            + self.timeline.satisfaction_effect(spec, day)
        )

    def _invitation(
        self, spec: TouchpointSpec, contact: Contact, moment: datetime, answered_at: datetime | None
    ) -> Invitation:
        """An invitation sent some hours (at most two weeks) before ``moment``."""
        sent_at = moment - timedelta(minutes=min(self.rng.expovariate(1 / 600), 14 * 24 * 60))
        created_at = sent_at - timedelta(minutes=self.rng.randint(1, 30))
        survey = self.surveys[spec.kind]
        return Invitation(
            survey=survey,
            touchpoint=self.touchpoints[spec.slug],
            contact=contact,
            properties=self._event_properties(spec),
            status=Invitation.Status.SENT,
            created_at=created_at,
            sent_at=sent_at,
            expires_at=Invitation.expiry(survey, created_at),
            answered_at=answered_at,
        )

    def _unanswered(self, answered: Counter) -> list[Invitation]:
        """As many unanswered invitations per touchpoint as its response rate asks for."""
        invitations = []
        for spec in TOUCHPOINTS:
            count = round(answered[spec.slug] * (1 - spec.response_rate) / spec.response_rate)
            for moment in self.timeline.sample(self.rng, count):
                invitations.append(self._invitation(spec, self.rng.choice(self.contacts), moment, None))
        return invitations

    def _event_properties(self, spec: TouchpointSpec) -> dict[str, str]:
        if not spec.reference:
            return {}
        if spec.reference == "showroom":
            return {"showroom": self.rng.choice(SHOWROOMS)}
        return {spec.reference: f"NW-{self.rng.randrange(10**7):07d}"}

    def _comment(self, spec: TouchpointSpec, scale: Scale, score: int, language: str, day: date) -> str:
        """A comment for six answers in ten, else ""; in the carrier's bad month it is about delivery."""
        rng = self.rng
        if rng.random() >= 0.6:
            return ""
        comment_tone = _tone(scale, score)
        sentences = {topic: texts[TONES.index(comment_tone)] for topic, texts in TOPICS[language].items()}
        topic = rng.choice(spec.topics)
        if spec.hit_by_carrier and (day.year, day.month) == self.timeline.carrier_failure:
            topic = "delivery"
        parts = [rng.choice(OPENERS[comment_tone][language]), sentences.pop(topic)]
        if rng.random() < 0.35:
            parts.append(rng.choice(list(sentences.values())))
        if rng.random() < 0.5:
            parts.append(rng.choice(CLOSERS[comment_tone][language]))
        return " ".join(parts)


def _pick(rng: random.Random, table: tuple) -> str:
    """A value from a (value, weight, ...) table, by weight."""
    return rng.choices([row[0] for row in table], weights=[row[1] for row in table])[0]


def _score(rng: random.Random, scale: Scale, mood: float) -> int:
    """A point on the scale for a customer whose satisfaction (0–1) centres on ``mood``."""
    satisfaction = min(max(rng.gauss(mood, 0.2), 0.0), 0.999)
    return scale.low + int(satisfaction * len(scale.points))


def ensure_demo_user(password: str) -> bool:
    """Create the superuser the login line names with ``password``; False if it exists
    already, which keeps its password."""
    user_model = get_user_model()
    if user_model.objects.filter(username=DEMO_USERNAME).exists():
        return False
    user_model.objects.create_superuser(DEMO_USERNAME, "demo@example.com", password)
    return True


class Command(BaseCommand):
    help = f"Create the demo company {BRAND} with 18 months of feedback (does nothing if it exists)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--contacts", type=int, default=5000)
        parser.add_argument("--responses", type=int, default=20000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--force-demo-user",
            action="store_true",
            help="Seed even with DEBUG off, giving the demo superuser a random password printed once.",
        )

    def handle(self, *, contacts: int, responses: int, seed: int, force_demo_user: bool, **options) -> None:
        if contacts < 1 or responses < 1:
            raise CommandError("--contacts and --responses must be at least 1.")
        if not settings.DEBUG and not force_demo_user:
            raise CommandError(
                "DEBUG is off: this looks like a production installation, where a demo superuser "
                "with a public password would let anyone in. Nothing was seeded. Pass "
                "--force-demo-user to seed anyway; the demo user then gets a random password, printed once."
            )
        if Survey.objects.filter(brand=BRAND).exists():
            self.stdout.write(f"Demo data for {BRAND} is already present; nothing added.")
        else:
            self._seed(contacts=contacts, responses=responses, seed=seed)
        # After the seeding, which may fail: a random password must not be lost with the output.
        # A development installation keeps the password the README names; any other may be
        # reachable from the internet, so its password is random and shown only here.
        password = DEMO_PASSWORD if settings.DEBUG else secrets.token_urlsafe(16)
        created = ensure_demo_user(password)
        login = f"Demo login: {settings.SITE_URL}/login/  user: {DEMO_USERNAME}"
        if created or settings.DEBUG:
            self.stdout.write(f"{login}  password: {password}")
        else:
            self.stdout.write(f"{login}  (an existing user: its password is unchanged)")

    def _seed(self, *, contacts: int, responses: int, seed: int) -> None:
        taken = Touchpoint.objects.filter(slug__in=[spec.slug for spec in TOUCHPOINTS])
        if taken.exists():
            raise CommandError(f"Touchpoint slugs already in use: {', '.join(t.slug for t in taken)}.")
        company = DemoCompany(random.Random(seed), Timeline.ending_before(timezone.localdate()))
        with transaction.atomic():
            company.create_surveys()
            company.create_touchpoints()
            # Labels the installation already has stay as they are.
            PropertyLabel.objects.bulk_create(
                [PropertyLabel(name=name, label_de=de, label_en=en) for name, de, en in PROPERTY_LABELS],
                ignore_conflicts=True,
            )
            company.create_contacts(contacts)
            invitation_count, response_count = company.create_answers(responses)
            # The other apps' part of the story (the follow-up of unhappy customers), from the same rng.
            told = demo_seeded.send(
                sender=Command, rng=company.rng, surveys=company.surveys, touchpoints=company.touchpoints
            )
        self.stdout.write(
            f"Created {len(company.surveys)} surveys, {len(company.touchpoints)} touchpoints, "
            f"{len(company.contacts)} contacts, {invitation_count} invitations "
            f"and {response_count} responses for {BRAND}."
        )
        for _receiver, created in told:
            if isinstance(created, dict):
                self.stdout.write(
                    "Created " + ", ".join(f"{count} {what}" for what, count in created.items()) + "."
                )
