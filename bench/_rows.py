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
    """The rows as a text table. Rows from other benches may lack a unit, or carry no limit
    (ratio and met None: a figure reported, with no target)."""
    lines = [f"{'figure':<52} {'value':>10} {'unit':<5} {'ratio':>6}  {'target':<16} met"]
    for r in rows:
        value = r.get("value")
        if isinstance(value, (int, float)):
            shown = f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
        else:
            shown = str(value)
        ratio = r.get("ratio")
        ratio_text = f"{ratio:>6.2f}" if isinstance(ratio, (int, float)) else f"{'-':>6}"
        met = {True: "yes", False: "NO", None: "-"}[r.get("met")]
        lines.append(
            f"{str(r.get('figure', ''))[:52]:<52} {shown:>10} {str(r.get('unit', '')):<5} "
            f"{ratio_text}  {str(r.get('target', '')):<16} {met}"
        )
    return "\n".join(lines)
