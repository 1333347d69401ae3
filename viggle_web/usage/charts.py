"""Geometry of the usage report's inline SVG charts, computed on the server (no chart script):
a bar per period, and bars stacked by member or kind. Views pass these to the template; the
template only draws the rectangles and labels given here."""

from __future__ import annotations

from dataclasses import dataclass

from viggle_web.usage.selectors import SplitSeries, UsageRow

WIDTH, HEIGHT = 760, 220
LEFT, TOP, BOTTOM, RIGHT = 56, 12, 28, 8
COLOURS = 8  # stacked segments cycle through this many colours (static/css)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    credits: int
    negative: bool


@dataclass(frozen=True)
class Segment:
    x: float
    y: float
    width: float
    height: float
    label: str  # "<segment> · <period>: N credits"
    colour: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    zero_y: float
    max_credits: int
    min_credits: int
    bars: list[Bar]
    ticks: list[tuple[float, str, str]]  # x, label, text-anchor


@dataclass(frozen=True)
class StackedChart(Chart):
    bars: list[Segment]  # type: ignore[assignment]
    legend: list[tuple[int, str, int]]  # colour, segment name, credits over the range


@dataclass(frozen=True)
class _Frame:
    """The plot area for ``periods`` bars spanning ``low``..``high`` credits."""

    width: int
    height: int
    periods: int
    high: int
    low: int

    @property
    def plot_width(self) -> int:
        return self.width - LEFT - RIGHT

    @property
    def plot_height(self) -> int:
        return self.height - TOP - BOTTOM

    @property
    def span(self) -> int:
        return (self.high - self.low) or 1

    @property
    def zero_y(self) -> float:
        return TOP + self.plot_height * self.high / self.span

    @property
    def slot(self) -> float:
        return self.plot_width / max(1, self.periods)

    @property
    def bar_width(self) -> float:
        return max(1.0, self.slot * 0.8)

    def bar_x(self, n: int) -> float:
        return round(LEFT + n * self.slot + (self.slot - self.bar_width) / 2, 2)

    def bar_height(self, credits: int) -> float:
        return self.plot_height * abs(credits) / self.span

    def ticks(self, labels: list[str]) -> list[tuple[float, str, str]]:
        """A handful of x labels: first, last and evenly spaced ones between, kept inside the
        frame."""
        n = len(labels)
        step = max(1, round(n / 6))
        picked = [i for i in range(n) if i % step == 0 or i == n - 1]
        if len(picked) > 1 and (picked[-1] - picked[-2]) * self.slot < 90:
            picked.pop(-2)
        offset = {"start": 0.0, "middle": self.slot / 2, "end": self.slot}
        ticks = []
        for i in picked:
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"
            ticks.append((round(LEFT + i * self.slot + offset[anchor], 2), labels[i], anchor))
        return ticks

    def chart_fields(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "left": LEFT,
            "top": TOP,
            "plot_width": self.plot_width,
            "plot_height": self.plot_height,
            "zero_y": round(self.zero_y, 2),
            "max_credits": self.high,
            "min_credits": self.low,
        }


def bar_chart(series: list[UsageRow], *, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """A bar of credits per period; refunds netted below zero hang down from it."""
    frame = _Frame(
        width,
        height,
        len(series),
        high=max([0, *(row.credits for row in series)]),
        low=min([0, *(row.credits for row in series)]),
    )
    bars = []
    for n, row in enumerate(series):
        h = frame.bar_height(row.credits)
        y = frame.zero_y - h if row.credits >= 0 else frame.zero_y
        bars.append(
            Bar(
                frame.bar_x(n),
                round(y, 2),
                round(frame.bar_width, 2),
                round(h, 2),
                row.label,
                row.credits,
                row.credits < 0,
            )
        )
    return Chart(**frame.chart_fields(), bars=bars, ticks=frame.ticks([r.label for r in series]))


def stacked_chart(split: SplitSeries, *, width: int = WIDTH, height: int = HEIGHT) -> StackedChart:
    """Per period, each member's (or kind's) credits: spending stacks up from zero, refunds
    netted below it stack down."""
    n = len(split.labels)
    ups = [sum(max(0, values[i]) for _, values in split.segments) for i in range(n)]
    downs = [sum(min(0, values[i]) for _, values in split.segments) for i in range(n)]
    frame = _Frame(width, height, n, high=max([0, *ups]), low=min([0, *downs]))
    bars: list[Segment] = []
    for i in range(n):
        up = down = 0.0
        for colour, (name, values) in enumerate(split.segments):
            value = values[i]
            if not value:
                continue
            h = frame.bar_height(value)
            if value > 0:
                y, up = frame.zero_y - up - h, up + h
            else:
                y, down = frame.zero_y + down, down + h
            label = f"{name} · {split.labels[i]}: {value} credits"
            bars.append(
                Segment(
                    frame.bar_x(i),
                    round(y, 2),
                    round(frame.bar_width, 2),
                    round(h, 2),
                    label,
                    colour % COLOURS,
                )
            )
    legend = [
        (colour % COLOURS, name, sum(values))
        for colour, (name, values) in enumerate(split.segments)
    ]
    return StackedChart(
        **frame.chart_fields(), bars=bars, ticks=frame.ticks(split.labels), legend=legend
    )
