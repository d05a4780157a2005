"""What a theme costs: how much the survey's metric would gain if the theme's unhappy answers
had not been unhappy, with a 95 % interval (the product brief's "Theme impact").

- NPS: the theme's detractors as passives: 100 · d / n points, interval 100 · Wilson95(d, n).
- CSAT: the theme's answers that are not satisfied (1–3) as satisfied: 100 · k / n percentage
  points, interval 100 · Wilson95(k, n).
- CES: the theme's high-effort answers (1–3) as neutral (4): the mean rises by Σ(4 − score) / n;
  its interval is that of the mean of n per-answer gains (0 for every other answer).

n counts all answers in the filter, with a theme or without; the theme's histogram counts its
answers by score. Pure arithmetic, like ``feedback.metrics``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from math import sqrt

from feedback.metrics import Z_95, proportion_interval
from surveys.scales import SCALES


@dataclass(frozen=True)
class Impact:
    """``value`` in points of the survey's metric (NPS points, CSAT percentage points, CES score
    points); None when there are no answers at all. ``moved`` counts the answers that would move."""

    value: float | None
    interval: tuple[float, float] | None
    moved: int


def theme_impact(kind: str, theme_histogram: Mapping[int, int], n: int) -> Impact:
    scale = SCALES[kind]
    if any(count < 0 for count in theme_histogram.values()) or sum(theme_histogram.values()) > n:
        raise ValueError(f"a theme's {sum(theme_histogram.values())} answers of {n}")
    if kind == "ces":
        neutral = scale.categories[1].low
        gains = {neutral - score: count for score, count in theme_histogram.items() if score < neutral}
        moved = sum(gains.values())
        if not n:
            return Impact(None, None, moved)
        mean = sum(gain * count for gain, count in gains.items()) / n
        squares = sum(gain * gain * count for gain, count in gains.items()) / n
        half = Z_95 * sqrt(max(squares - mean * mean, 0.0) / n)
        return Impact(mean, (max(0.0, mean - half), mean + half), moved)
    # NPS: below passive (detractors); CSAT: below satisfied (dissatisfied and neutral).
    target = scale.categories[1].low if kind == "nps" else scale.categories[-1].low
    moved = sum(count for score, count in theme_histogram.items() if score < target)
    if not n:
        return Impact(None, None, moved)
    return Impact(100 * moved / n, proportion_interval(moved, n), moved)
