"""Run every bench and print one table: figure, value, ratio to its limit, target, met or not.

    bin/bench                 # the full run (the README's figures; takes a while)
    bin/bench --quick         # smaller sizes, a few minutes: a smoke run, not the figures
    bin/bench --only upload,usage_report

Each bench runs in its own process (they set Django up differently) as
``python -c "bench.<name>.main(argv)"``; its output streams through, and the rows its
``main()`` returns (bench/_rows.py) are collected from one marked line. A bench that is missing
or exposes no rows is listed as such; one that fails is reported and the others still run.
The exit status is 0 when every figure met its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._rows import MARKER, table  # noqa: E402

# name -> (full-run arguments, quick-run arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "upload": ([], ["--mb", "100"]),
    "usage_report": (["--no-explain"], ["--rows", "100000", "--runs", "5", "--no-explain"]),
    "pages": ([], ["--assets", "1000", "--jobs", "10000", "--ledger", "100000", "--runs", "5"]),
    "poller": ([], ["--jobs", "500", "--window", "20", "--warmup", "5", "--watched", "6"]),
    "time_to_result": ([], ["--reps", "2", "--parts", "1"]),
    "load": ([], ["--seconds", "15", "--streams", "50", "--jobs", "100"]),
    "exports": ([], ["--seconds", "5"]),
    "batches": ([], ["--runs", "5"]),
}


def run_one(name: str, argv: list[str]) -> tuple[list[dict] | None, str]:
    """(rows, note). Rows None when the bench failed or returned none."""
    if not (ROOT / "bench" / f"{name}.py").exists():
        return None, "no such bench"
    # main(argv) where it takes one; else main() reading sys.argv as argparse does.
    code = (
        "import sys, inspect, importlib, bench._rows as r; "
        f"sys.argv[0] = 'bench/{name}.py'; "
        f"m = importlib.import_module('bench.{name}'); "
        "rows = m.main(sys.argv[1:]) if inspect.signature(m.main).parameters else m.main(); "
        "r.emit(rows) if isinstance(rows, list) else print('(no rows returned)')"
    )
    began = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    rows: list[dict] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(MARKER):
            rows = json.loads(line[len(MARKER) :])
        else:
            print(f"  {name}| {line}", end="", flush=True)
    status = proc.wait()
    took = f"{time.monotonic() - began:.0f}s"
    if status != 0:
        return None, f"failed (exit {status}, {took})"
    if rows is None:
        return None, f"returned no rows ({took})"
    return rows, took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", default="", help="comma-separated bench names")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown bench(es) {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    all_rows: list[dict] = []
    notes: list[str] = []
    for name in names:
        full, quick = BENCHES[name]
        print(f"== {name} {'(quick)' if args.quick else ''}", flush=True)
        rows, note = run_one(name, quick if args.quick else full)
        notes.append(f"{name}: {note}")
        for r in rows or []:
            all_rows.append({**r, "figure": f"{name}: {r['figure']}"})
    print()
    print(table(all_rows))
    print()
    print("runs: " + "; ".join(notes))
    if args.quick:
        print("(quick run: smaller sizes than the targets are stated for)")
    judged = [r for r in all_rows if r.get("met") is not None]
    return 0 if judged and all(r["met"] for r in judged) else 1


if __name__ == "__main__":
    sys.exit(main())
