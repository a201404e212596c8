"""The curation job streams: peak memory does not follow the input's size.

Two runs of ``scripts/measure_curation_memory.py`` (each curates a generated corpus in a
fresh subprocess and reads its peak RSS): twenty times the input in documents of 100 kB adds
less than half of the extra input to the peak (a job that held its input would add all of it;
the margin absorbs allocator noise, seen up to 6.5 MB on a loaded machine). The 1 GB figure
is a bench run of the same script (``--input-mb 1000``), too slow for the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cdk_support import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "measure_curation_memory.py"


def _peak(input_mb: float) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--input-mb", str(input_mb), "--document-kb", "100"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def test_peak_memory_flat_as_the_input_grows() -> None:
    small, large = _peak(1), _peak(20)
    assert large["documents"] > 19 * small["documents"]
    assert large["output_records"] == large["documents"]  # nothing skipped the work
    growth_mb = large["peak_rss_mb"] - small["peak_rss_mb"]
    assert growth_mb < 0.5 * (large["input_mb"] - small["input_mb"]), (small, large)
