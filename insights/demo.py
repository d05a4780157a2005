"""The demo company's themes (``manage.py seed_demo``): the subjects its comments are about, each
with rules in German and English, matched against every seeded comment at once. The carrier's
failed February shows as a rise of "Lieferung" among detractors. Then the tone is learned from the
seeded comments and every comment gets its tone, so the explorer shows tones and disagreements."""

from django.utils import timezone

from insights import themes, tone
from insights.models import Theme

# name → rules, in both languages
THEMES = {
    "Lieferung": "liefer*, fahrer*, pünktlich, delivery, driver*",
    "Aufbau": "aufbau*, schraube*, anleitung*, assembly, screw*, instruction*",
    "Qualität": "qualität*, kratzer*, verarbeit*, quality, scratch*",
    "Kundenservice": "kundenservice*, warteschleife*, customer service, hold",
    "Rücksendung": "rücksendung*, retoure*, erstattung*, return*, refund*",
    "Preis": "preis*, price*",
    "Website": "website*, warenkorb*, filter*",
    "Showroom": "showroom*, beratung*",
}


def seed_themes(sender: object, **kwargs) -> dict[str, int]:
    """Create the themes, give every seeded comment its themes, learn the tone and give every
    comment its tone; how many themes and tone lexicons."""
    now = timezone.now()
    for name, include in THEMES.items():
        theme, _created = Theme.objects.update_or_create(name=name, defaults={"include": include})
        themes.start_matching(theme, now=now)
    while themes.match_again(now=now):
        pass
    lexicons = tone.learn_tone(now=now)
    while tone.tone_again(now=now):
        pass
    return {"themes": len(THEMES), "tone lexicons": len(lexicons)}
