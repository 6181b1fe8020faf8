"""Run every benchmark module (``bench/bench_*.py``), print a table, write results.json.

Each module exposes ``run() -> list[Metric]``. ``python -m bench NAME...`` runs
only the modules whose name contains one of the words given.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
from pathlib import Path

from bench.metric import Metric

RESULTS = Path(__file__).with_name("results.json")


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1e5 or abs(x) < 1e-3:
        return f"{x:.3e}"
    return f"{x:,.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if any(w in ("-h", "--help") for w in words):
        print(__doc__)
        return 0
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_") and (not words or any(w in m.name for w in words))
    )
    metrics: list[Metric] = []
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        metrics.extend(module.run())
        print(f"      done in {time.perf_counter() - started:.1f} s", flush=True)
    print()
    header = f"{'metric':<50} {'value':>14} {'unit':<14} {'floor':>14} {'unit':<12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for m in metrics:
        ratio = "" if m.ratio is None else f"{m.ratio:.2f}x"
        print(
            f"{m.name:<50} {_fmt(m.value):>14} {m.unit:<14} {_fmt(m.floor_value):>14} "
            f"{m.floor_unit:<12} {ratio:>7}"
        )
        print(f"    floor: {m.floor_name}" + (f"; target: {m.target}" if m.target else ""))
        if m.detail:
            print(f"    {m.detail}")
    results = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "metrics": {m.name: m.as_json() for m in metrics},
    }
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() and words else {}
    if previous.get("metrics"):
        previous["metrics"].update(results["metrics"])
        results["metrics"] = previous["metrics"]
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
