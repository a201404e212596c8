"""`make bench`: measure the library, print figures (never a pass/fail gate).

synth: wall time of synthesizing the whole ready app versus a one-bucket baseline app, each
in a fresh process as `cdk synth` runs it (median of several interleaved runs).
plan: wall time of a whole `cdk-llm-training plan ... --json` process (median).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SYNTH_TARGET_RATIO = 1.5
PLAN_TARGET_S = 0.5
PLAN_ARGV = [
    "plan",
    *("--params", "7e9", "--method", "pretrain", "--tokens", "2e12"),
    *("--accelerator", "a100-80gb", "--json"),
]


def _synth_seconds(script: Path, context: dict[str, object]) -> float:
    with tempfile.TemporaryDirectory() as outdir:
        env = dict(os.environ, CDK_OUTDIR=outdir, CDK_CONTEXT_JSON=json.dumps(context))
        start = time.perf_counter()
        subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, env=env, check=True)
        return time.perf_counter() - start


def bench_synth(runs: int) -> dict[str, float]:
    """Median wall seconds of the full app and the baseline, and their ratio."""
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    full: list[float] = []
    baseline: list[float] = []
    _synth_seconds(REPO_ROOT / "app.py", context)  # warm the OS file cache once
    for _ in range(runs):
        full.append(_synth_seconds(REPO_ROOT / "app.py", context))
        baseline.append(_synth_seconds(REPO_ROOT / "scripts" / "bench_baseline_app.py", context))
    full_median = statistics.median(full)
    baseline_median = statistics.median(baseline)
    return {
        "full_app_s": full_median,
        "baseline_app_s": baseline_median,
        "ratio": full_median / baseline_median,
    }


def bench_plan(runs: int) -> float:
    """Median wall seconds of a whole `cdk-llm-training plan ... --json` process."""
    command = [sys.executable, "-m", "cdk_llm_training.cli", *PLAN_ARGV]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)  # warm caches
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per app (default 5)")
    args = parser.parse_args(argv)

    synth = bench_synth(args.runs)
    print(f"synth  full app        median {synth['full_app_s']:.2f} s  ({args.runs} runs)")
    print(f"synth  baseline (1 S3) median {synth['baseline_app_s']:.2f} s")
    verdict = "within" if synth["ratio"] <= SYNTH_TARGET_RATIO else "ABOVE"
    print(
        f"synth  ratio           {synth['ratio']:.2f}x ({verdict} the {SYNTH_TARGET_RATIO}x target)"
    )
    plan_s = bench_plan(max(args.runs, 5))
    verdict = "within" if plan_s <= PLAN_TARGET_S else "ABOVE"
    print(f"plan   --json process  median {plan_s:.2f} s ({verdict} the {PLAN_TARGET_S} s target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
