"""``manage.py learn_tone``: learn the tone lexicons anew from the comments scored so far.

The periodic schedule does it daily; after a bulk import, this does it now. Every comment gets
its new tone in the background afterwards (``insights.tone.tone_again``). It prints, per language,
how well the tone agrees with the score on the held-out comments, so that nobody trusts it blindly.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone

from insights.tone import agreement, learn_tone


class Command(BaseCommand):
    help = "Learn the tone of comments anew from the installation's scored comments."

    def handle(self, **options) -> None:
        for lexicon in learn_tone(now=timezone.now()):
            figures = agreement(lexicon)
            weighted = lexicon.weights.count()
            line = f"{lexicon.language}: {weighted} weighted terms from {lexicon.comments} comments"
            if figures.share is None or figures.interval is None:
                line += "; no held-out comments to check it on."
            else:
                low, high = figures.interval
                line += (
                    f"; agrees with the score on {figures.share:.0f} % ({low:.0f}–{high:.0f} %) of "
                    f"{figures.n} held-out comments, {figures.neutral:.0f} % neutral."
                )
            self.stdout.write(line)
