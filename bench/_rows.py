"""The one shape of a bench figure, so bench/run_all.py can put every bench in one table.

Each bench's ``main(argv) -> list[dict]`` returns rows made by :func:`row`:
``{figure, value, unit, limit, ratio, target, met}``. ``ratio`` is value / limit, so that a
figure measured on a busy machine can be read against its limit from the same run: for a
"<" target a ratio under 1 meets it, for a ">=" target a ratio of 1 or more does.
"""

from __future__ import annotations

import json
import math

MARKER = "BENCH-ROWS "


def row(figure: str, value: float, unit: str, limit: float, target: str = "<") -> dict:
    if target not in ("<", "<=", ">", ">=", "="):
        raise ValueError(f"unknown target {target!r}")
    ratio = value / limit if limit else math.nan
    met = {
        "<": value < limit,
        "<=": value <= limit,
        ">": value > limit,
        ">=": value >= limit,
        "=": value == limit,
    }[target]
    return {
        "figure": figure,
        "value": round(float(value), 4),
        "unit": unit,
        "limit": limit,
        "ratio": round(ratio, 3),
        "target": f"{target} {limit:g} {unit}".strip(),
        "met": bool(met),
    }


def emit(rows: list[dict]) -> None:
    """One machine-readable line for the runner (bench/run_all.py reads it from stdout)."""
    print(MARKER + json.dumps(rows), flush=True)


def table(rows: list[dict]) -> str:
    lines = [f"{'figure':<46} {'value':>10} {'unit':<5} {'ratio':>6}  {'target':<16} met"]
    for r in rows:
        value = r["value"]
        shown = f"{value:.2f}" if isinstance(value, float) and abs(value) < 100 else f"{value:.0f}"
        met = "yes" if r["met"] else "NO"
        lines.append(
            f"{r['figure'][:46]:<46} {shown:>10} {r['unit']:<5} {r['ratio']:>6.2f}  "
            f"{r['target']:<16} {met}"
        )
    return "\n".join(lines)
