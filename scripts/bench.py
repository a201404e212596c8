"""`make bench`: measure the library, print figures (never a pass/fail gate).

synth: wall time of synthesizing the whole ready app versus a one-bucket baseline app, each
in a fresh process as `cdk synth` runs it (median of several interleaved runs), and the CPU
seconds of the same runs (Python and its jsii Node process: less sensitive to a busy machine).
plan: wall time of a whole `cdk-llm-training plan ... --json` process (median).
pytest: wall time of the whole test suite on every core (as `make test`), with the load average.

validator: throughput (MB/s) and peak RSS of the Bedrock dataset validator on a generated
200 MB JSONL file, in a fresh subprocess (peak RSS from getrusage(RUSAGE_CHILDREN)).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SYNTH_TARGET_RATIO = 1.5
PYTEST_TARGET_S = 120.0
PLAN_TARGET_S = 0.5
PLAN_ARGV = [
    "plan",
    *("--params", "7e9", "--method", "pretrain", "--tokens", "2e12"),
    *("--accelerator", "a100-80gb", "--json"),
]
VALIDATOR_MIN_MB_PER_S = 50.0
VALIDATOR_MAX_RSS_MB = 150.0
VALIDATOR_FILE_MB = 200
# Runs in the child: validate the file with the Lambda's streaming core, print seconds.
_VALIDATOR_CHILD = """
import json, sys, time
from cdk_llm_training.assets.runtime.dataset_validation import FileLimits, validate_stream
start = time.perf_counter()
with open(sys.argv[1], "rb") as stream:
    report = validate_stream(stream, key="bench", role="training",
                             record_format="messages", limits=FileLimits(max_record_bytes=262144))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "bytes": report.bytes_read, "records": report.records,
                  "errors": report.error_count}))
"""


def _synth_seconds(script: Path, context: dict[str, object]) -> tuple[float, float]:
    """Wall and CPU seconds (the child and its Node process) of one synth of ``script``."""
    with tempfile.TemporaryDirectory() as outdir:
        env = dict(os.environ, CDK_OUTDIR=outdir, CDK_CONTEXT_JSON=json.dumps(context))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        # Output captured (the ready app prints its warnings on every synth): a readable bench.
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"{script.name} failed:\n{result.stderr[-3000:]}")
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def bench_synth(runs: int) -> dict[str, float]:
    """Median wall and CPU seconds of the full app and the baseline, and their ratios."""
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    # What `cdk synth` adds to the context unless run with --debug: no construct stack traces.
    context["aws:cdk:disable-stack-trace"] = True
    full: list[tuple[float, float]] = []
    baseline: list[tuple[float, float]] = []
    _synth_seconds(REPO_ROOT / "app.py", context)  # warm the OS file cache once
    for _ in range(runs):
        full.append(_synth_seconds(REPO_ROOT / "app.py", context))
        baseline.append(_synth_seconds(REPO_ROOT / "scripts" / "bench_baseline_app.py", context))
    figures = {
        "full_app_s": statistics.median(wall for wall, _ in full),
        "baseline_app_s": statistics.median(wall for wall, _ in baseline),
        "full_app_cpu_s": statistics.median(cpu for _, cpu in full),
        "baseline_app_cpu_s": statistics.median(cpu for _, cpu in baseline),
        # Each run's full app against the baseline run right after it: load changes slowly,
        # so the median of paired ratios is steadier than the ratio of medians.
        "paired_ratio": statistics.median(f[0] / b[0] for f, b in zip(full, baseline, strict=True)),
    }
    figures["ratio"] = figures["full_app_s"] / figures["baseline_app_s"]
    figures["cpu_ratio"] = figures["full_app_cpu_s"] / figures["baseline_app_cpu_s"]
    return figures


def bench_pytest() -> dict[str, float | str]:
    """Wall and CPU seconds of the whole test suite, run as `make test` runs it (on every core)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "auto", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = result.stdout.strip().splitlines()
    return {
        "seconds": wall,
        "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        # "1458 passed, 2 skipped in 150.00s (0:02:30)" -> "1458 passed, 2 skipped"
        "summary": lines[-1].strip("= ").split(" in ")[0]
        if lines
        else f"exit code {result.returncode}",
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "cores": float(len(os.sched_getaffinity(0))),
    }


def bench_plan(runs: int) -> float:
    """Median wall seconds of a whole `cdk-llm-training plan ... --json` process."""
    command = [sys.executable, "-m", "cdk_llm_training.tools.cli", *PLAN_ARGV]
    subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)  # warm caches
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=REPO_ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _write_jsonl(path: Path, megabytes: int) -> int:
    """A chat-format JSONL file of about ``megabytes`` MB with varied record sizes."""
    target = megabytes * 1_000_000
    written = 0
    index = 0
    with path.open("wb", buffering=1024 * 1024) as out:
        while written < target:
            index += 1
            record = {
                "system": "You are a support assistant for an online store.",
                "messages": [
                    {
                        "role": "user",
                        "content": f"Question {index}: " + "where is my order? " * (5 + index % 40),
                    },
                    {
                        "role": "assistant",
                        "content": "Let me check that for you. " * (10 + index % 60),
                    },
                ],
            }
            line = (json.dumps(record) + "\n").encode()
            out.write(line)
            written += len(line)
    return written


def bench_validator() -> dict[str, float]:
    """MB/s and peak RSS (MB) of validating a generated 200 MB file in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        size = _write_jsonl(path, VALIDATOR_FILE_MB)
        usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = usage_before.ru_maxrss
        result = subprocess.run(
            [sys.executable, "-c", _VALIDATOR_CHILD, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak_kib = usage.ru_maxrss
        cpu_seconds = (usage.ru_utime - usage_before.ru_utime) + (
            usage.ru_stime - usage_before.ru_stime
        )
    figures = json.loads(result.stdout)
    if figures["bytes"] != size or figures["errors"]:
        raise RuntimeError(f"validator bench read {figures} of {size} bytes")
    return {
        "mb_per_s": size / 1_000_000 / figures["seconds"],
        # CPU time of the whole child (interpreter start-up included): the figure that does
        # not depend on how busy the shared machine is.
        "mb_per_cpu_s": size / 1_000_000 / cpu_seconds,
        "cpu_seconds": cpu_seconds,
        "seconds": figures["seconds"],
        "file_mb": size / 1_000_000,
        "records": figures["records"],
        # ru_maxrss is KiB on Linux; the children maximum only grows, so a smaller earlier
        # child (the synth runs) cannot hide this one's peak when it is the largest.
        "peak_rss_mb": peak_kib * 1024 / 1_000_000,
        "earlier_children_peak_mb": before * 1024 / 1_000_000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per app (default 5)")
    parser.add_argument(
        "--only",
        choices=("synth", "validator", "plan", "pytest"),
        help="run one section (default: all)",
    )
    parser.add_argument(
        "--skip-pytest", action="store_true", help="leave out the test-suite timing (minutes)"
    )
    args = parser.parse_args(argv)
    load = os.getloadavg()
    print(
        f"machine    {len(os.sched_getaffinity(0))} cores, load average "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (1/5/15 min; load inflates wall time)"
    )

    if args.only in (None, "validator"):
        validator = bench_validator()
        speed_ok = "meets" if validator["mb_per_s"] >= VALIDATOR_MIN_MB_PER_S else "BELOW"
        rss_ok = "meets" if validator["peak_rss_mb"] <= VALIDATOR_MAX_RSS_MB else "ABOVE"
        print(
            f"validator  {validator['file_mb']:.0f} MB, {validator['records']:.0f} records in "
            f"{validator['seconds']:.2f} s = {validator['mb_per_s']:.0f} MB/s "
            f"wall ({speed_ok} the {VALIDATOR_MIN_MB_PER_S:.0f} MB/s target)"
        )
        print(
            f"validator  {validator['cpu_seconds']:.2f} CPU s = "
            f"{validator['mb_per_cpu_s']:.0f} MB per CPU second (load-independent)"
        )
        print(
            f"validator  peak RSS {validator['peak_rss_mb']:.0f} MB "
            f"({rss_ok} the {VALIDATOR_MAX_RSS_MB:.0f} MB target)"
        )
    if args.only in (None, "synth"):
        _print_synth(bench_synth(args.runs), args.runs)
    if args.only in (None, "plan"):
        plan_s = bench_plan(max(args.runs, 5))
        verdict = "within" if plan_s <= PLAN_TARGET_S else "ABOVE"
        print(
            f"plan   --json process  median {plan_s:.2f} s ({verdict} the {PLAN_TARGET_S} s target)"
        )
    if args.only == "pytest" or (args.only is None and not args.skip_pytest):
        _print_pytest(bench_pytest())
    return 0


def _print_pytest(figures: dict[str, float | str]) -> None:
    seconds = float(figures["seconds"])
    verdict = "within" if seconds <= PYTEST_TARGET_S else "ABOVE"
    print(
        f"pytest whole suite    {seconds:.0f} s wall ({verdict} the {PYTEST_TARGET_S:.0f} s "
        f"target), {float(figures['cpu_seconds']):.0f} CPU s, {figures['summary']}"
    )
    print(
        f"pytest load average   {float(figures['load_before']):.1f} before, "
        f"{float(figures['load_after']):.1f} after, on {float(figures['cores']):.0f} cores"
    )


def _print_synth(synth: dict[str, float], runs: int) -> None:
    print(
        f"synth  full app        median {synth['full_app_s']:.2f} s, "
        f"{synth['full_app_cpu_s']:.2f} CPU s ({runs} runs)"
    )
    print(
        f"synth  baseline (1 S3) median {synth['baseline_app_s']:.2f} s, "
        f"{synth['baseline_app_cpu_s']:.2f} CPU s"
    )
    verdict = "within" if synth["ratio"] <= SYNTH_TARGET_RATIO else "ABOVE"
    print(
        f"synth  ratio           {synth['ratio']:.2f}x wall ({verdict} the "
        f"{SYNTH_TARGET_RATIO}x target); paired runs {synth['paired_ratio']:.2f}x, "
        f"CPU {synth['cpu_ratio']:.2f}x"
    )


if __name__ == "__main__":
    raise SystemExit(main())
