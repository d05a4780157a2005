"""NPS, CSAT and CES with 95 % intervals and period-over-period tests, from score counts.

Pure arithmetic over a score histogram (score → number of responses): the database counts, this
module computes, so every figure can be checked by hand and tested without a database. Definitions
follow "The three metrics" in the product brief. Nothing is rounded here; callers format.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from math import exp, expm1, inf, isinf, lgamma, log, log1p, pi, sqrt
from statistics import NormalDist

from surveys.scales import SCALES

Z_95 = 1.96  # the brief's critical value for the NPS interval and every z-test
SMALL_SAMPLE = 30  # fewer responses than this are shown, but marked as a small sample


@dataclass(frozen=True)
class Summary:
    """One survey kind's figures over one set of responses.

    ``value`` is NPS in [−100, 100], CSAT in % (top-2-box) or CES as the mean score. ``value``,
    ``interval`` and ``mean`` are None when n = 0 ("no data", never 0); ``sd`` (sample standard
    deviation of the scores) is None when n < 2, and so is the CES interval.
    """

    kind: str
    n: int
    categories: tuple[tuple[str, int], ...]  # (category code, count) in scale order, lowest first
    value: float | None
    interval: tuple[float, float] | None
    mean: float | None
    sd: float | None

    @property
    def small_sample(self) -> bool:
        """True for 0 < n < 30. With n = 0 there is no sample at all: that is "no data" (value None)."""
        return 0 < self.n < SMALL_SAMPLE

    def count(self, code: str) -> int:
        """Responses in one category; ValueError for a category this kind does not have."""
        for name, count in self.categories:
            if name == code:
                return count
        raise ValueError(f"{self.kind} has no category {code!r}")

    def share(self, code: str) -> float | None:
        """A category's share of the responses in %, None when there are none."""
        return 100 * self.count(code) / self.n if self.n else None

    @property
    def promoters(self) -> int:
        return self.count("promoter")

    @property
    def passives(self) -> int:
        return self.count("passive")

    @property
    def detractors(self) -> int:
        return self.count("detractor")

    @property
    def satisfied(self) -> int:
        return self.count("satisfied")

    @property
    def dissatisfied(self) -> int:
        return self.count("dissatisfied")

    @property
    def neutral(self) -> int:
        return self.count("neutral")

    @property
    def easy(self) -> int:
        return self.count("easy")

    @property
    def difficult(self) -> int:
        return self.count("difficult")

    @property
    def easy_share(self) -> float | None:
        """CES "% easy": the share of scores 5–7."""
        return self.share("easy")


@dataclass(frozen=True)
class Change:
    """How the current period differs from the previous one.

    ``delta`` is the difference of the values (current − previous). ``z`` is the test statistic
    (for CES, Welch's t) and ``significant`` whether the change is significant at 95 %. All are
    None when either period has no data; ``z`` and ``significant`` also when the test is undefined
    (see ``compare``).
    """

    delta: float | None
    z: float | None
    significant: bool | None


def summarise(kind: str, histogram: Mapping[int, int]) -> Summary:
    """The figures of one survey kind ("nps", "csat" or "ces") from its score counts.

    Scores missing from ``histogram`` count as 0; a score outside the scale or a negative count
    raises ValueError.
    """
    scale = SCALES[kind]
    counts = dict.fromkeys((category.code for category in scale.categories), 0)
    n = total = squares = 0
    for score, count in histogram.items():
        if count < 0:
            raise ValueError(f"negative count {count} for score {score}")
        counts[scale.category(score)] += count
        n += count
        total += score * count
        squares += score * score * count
    mean = total / n if n else None
    # Integer sums make the variance's numerator exact: no cancellation between large squared sums.
    sd = sqrt((n * squares - total * total) / (n * (n - 1))) if n > 1 else None

    value = interval = None
    if kind == "nps" and n:
        value = 100 * (counts["promoter"] - counts["detractor"]) / n
        interval = _nps_interval(counts["promoter"], counts["detractor"], n)
    elif kind == "csat" and n:
        value = 100 * counts["satisfied"] / n
        interval = _wilson_interval(counts["satisfied"], n)
    elif kind == "ces" and n:
        value = mean
        if sd is not None and mean is not None:  # both set for n ≥ 2
            half = t_quantile(0.975, n - 1) * sd / sqrt(n)
            # A mean of 1–7 scores cannot leave the scale; tiny samples would draw a band beyond it.
            interval = (max(float(scale.low), mean - half), min(float(scale.high), mean + half))
    return Summary(
        kind=kind,
        n=n,
        categories=tuple(counts.items()),
        value=value,
        interval=interval,
        mean=mean,
        sd=sd,
    )


def compare(current: Summary, previous: Summary) -> Change:
    """The change from ``previous`` to ``current`` (same kind) and whether it is significant at 95 %.

    - NPS: the brief's z-test on the adjusted-Wald quantities, significant when |z| ≥ 1.96.
    - CSAT: the pooled two-proportion z-test on the top-2-box shares (the textbook test of "both
      periods share one proportion"), significant when |z| ≥ 1.96.
    - CES: Welch's t-test on the means, which does not assume equal variances in both periods;
      |t| is held against the 97.5 % t quantile with Welch–Satterthwaite degrees of freedom. It
      needs n ≥ 2 in both periods, else ``z`` and ``significant`` are None.

    When neither period varies (every CSAT answer in the same box, or two constant CES periods) the
    standard error is 0: equal values are "no change" (z = 0, not significant), different ones
    leave the test undefined (None).
    """
    if current.kind != previous.kind:
        raise ValueError(f"cannot compare {current.kind} with {previous.kind}")
    if not current.n or not previous.n or current.value is None or previous.value is None:
        return Change(delta=None, z=None, significant=None)
    delta = current.value - previous.value
    if current.kind == "nps":
        a1, var1, n1 = _adjusted_wald(current.promoters, current.detractors, current.n)
        a2, var2, n2 = _adjusted_wald(previous.promoters, previous.detractors, previous.n)
        z, critical = _z(a1 - a2, sqrt(var1 / n1 + var2 / n2)), Z_95
    elif current.kind == "csat":
        s1, s2, n1, n2 = current.satisfied, previous.satisfied, current.n, previous.n
        pooled = (s1 + s2) / (n1 + n2)
        z, critical = _z(s1 / n1 - s2 / n2, sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))), Z_95
    else:
        if current.sd is None or previous.sd is None or current.mean is None or previous.mean is None:
            return Change(delta=delta, z=None, significant=None)
        v1, v2 = current.sd**2 / current.n, previous.sd**2 / previous.n
        z = _z(current.mean - previous.mean, sqrt(v1 + v2))
        # Welch–Satterthwaite; without variation z is 0 or None and the degrees of freedom are moot.
        df = (v1 + v2) ** 2 / (v1**2 / (current.n - 1) + v2**2 / (previous.n - 1)) if v1 + v2 else inf
        critical = t_quantile(0.975, df)
    if z is None:
        return Change(delta=delta, z=None, significant=None)
    return Change(delta=delta, z=z, significant=abs(z) >= critical)


def t_quantile(q: float, df: float) -> float:
    """The q-quantile of Student's t distribution with df ≥ 1 degrees of freedom (fractional or inf).

    Hill's approximation (1970, CACM Algorithm 396) is good to 1e-11 (relative) from df = 100 on, but
    only to 1e-7 at df = 5 and far off below 3, where Welch's df often lies; below 100, Newton steps
    on the exact distribution function take it to full float precision, as R's qt does.
    """
    if not 0 < q < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0 < q < 1 and df ≥ 1, not q={q}, df={df}")
    if q < 0.5:
        return -t_quantile(1 - q, df)
    if q == 0.5:
        return 0.0
    if isinf(df):
        return NormalDist().inv_cdf(q)
    t = _hill(2 * (1 - q), df)
    if df < 100:
        for _ in range(50):
            density = exp(
                lgamma((df + 1) / 2) - lgamma(df / 2) - log(df * pi) / 2 - (df + 1) / 2 * log1p(t * t / df)
            )
            step = (_t_upper_tail(t, df) - (1 - q)) / density
            t += step * (1 + step * t * (df + 1) / (2 * (t * t + df)))  # Newton plus Hill's (1981) 2nd term
            if abs(step) <= 1e-13 * max(1.0, t):
                break
    return t


def _adjusted_wald(promoters: int, detractors: int, n: int) -> tuple[float, float, int]:
    """a, var and n' of the brief's adjusted-Wald NPS (Rocks 2016): 3 pseudo-answers, 0.75 of each end."""
    adjusted_n = n + 3
    p = (promoters + 0.75) / adjusted_n
    d = (detractors + 0.75) / adjusted_n
    a = p - d
    return a, p + d - a * a, adjusted_n


def _nps_interval(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    a, var, adjusted_n = _adjusted_wald(promoters, detractors, n)
    half = Z_95 * sqrt(var / adjusted_n)
    return max(-100.0, 100 * (a - half)), min(100.0, 100 * (a + half))


def _wilson_interval(successes: int, n: int) -> tuple[float, float]:
    """Wilson score interval in %: unlike p ± z·se it stays in [0, 100] and works at 0 % and 100 %."""
    # The upper bound is the lower bound of the failures, mirrored: exactly 100 at 100 %.
    return 100 * _wilson_lower(successes, n), 100 * (1 - _wilson_lower(n - successes, n))


def _wilson_lower(successes: int, n: int) -> float:
    """(p + z²/2n − z √(p(1 − p)/n + z²/4n²)) / (1 + z²/n), written with e = z/2n so that it is
    exactly 0 at p = 0 (√(e·e) is e in binary floating point)."""
    p = successes / n
    e = Z_95 / (2 * n)
    return (p + Z_95 * e - Z_95 * sqrt(p * (1 - p) / n + e * e)) / (1 + 2 * Z_95 * e)


def _z(difference: float, se: float) -> float | None:
    """difference / se; with se = 0 (no variation) 0.0 for no difference, else None (undefined)."""
    if se:
        return difference / se
    return 0.0 if difference == 0 else None


def _hill(p: float, df: float) -> float:
    """Hill's (1970) upper quantile of t for the two-sided tail probability p (as in R's qt)."""
    a = 1 / (df - 0.5)
    b = 48 / (a * a)
    c = ((20700 * a / b - 98) * a - 16) * a + 96.36
    d = ((94.5 / (b + c) - 3) / b + 1) * sqrt(a * pi / 2) * df
    y = (d * p) ** (2 / df)
    if (df < 2.1 and p > 0.5) or y > 0.05 + a:
        # Asymptotic inverse expansion about the normal quantile.
        x = NormalDist().inv_cdf(p / 2)
        y = x * x
        if df < 5:
            c += 0.3 * (df - 4.5) * (x + 0.6)
        c = (((0.05 * d * x - 5) * x - 7) * x - 2) * x + b + c
        y = (((((0.4 * y + 6.3) * y + 36) * y + 94.5) / c - y - 3) / b + 1) * x
        y = expm1(a * y * y)
    else:
        y = ((1 / (((df + 6) / (df * y) - 0.089 * d - 0.822) * (df + 2) * 3) + 0.5 / (df + 4)) * y - 1) * (
            df + 1
        ) / (df + 2) + 1 / y
    return sqrt(df * y)


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > |t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t²), the regularized incomplete beta."""
    x, y = df / (df + t * t), t * t / (df + t * t)
    if x < (df / 2 + 1) / (df / 2 + 2.5):
        return _incomplete_beta(df / 2, 0.5, x, y) / 2
    # The continued fraction converges fast only for x < (a + 1)/(a + b + 2); beyond, use the
    # symmetry I_x(a, b) = 1 − I_y(b, a).
    return (1 - _incomplete_beta(0.5, df / 2, y, x)) / 2


def _incomplete_beta(a: float, b: float, x: float, y: float) -> float:
    """I_x(a, b) for y = 1 − x (passed in exactly) by its continued fraction, modified Lentz method."""
    front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y)) / a
    tiny = 1e-300
    f, c, d = 1.0, 1.0, 0.0
    for i in range(300):
        m = i // 2
        if i == 0:
            numerator = 1.0
        elif i % 2:
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        else:
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1 / (1 + numerator * d or tiny)  # Lentz's guard against an exact zero
        c = 1 + numerator / c or tiny
        f *= c * d
        if abs(1 - c * d) < 1e-15:
            break
    return front * (f - 1)


def proportion_interval(successes: int, n: int) -> tuple[float, float] | None:
    """The 95 % Wilson interval in % of ``successes`` out of ``n`` (as for CSAT); None when n = 0."""
    return _wilson_interval(successes, n) if n else None
