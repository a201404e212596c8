"""Every synthesized workflow state must be entered by some test of the execution suite.

A pytest plugin (registered by ``tests/conftest.py``, so the main process of a
``pytest -n auto`` run loads it too). The ``cloud`` fixture of ``tests/workflows/conftest.py``
records every state machine's states (:data:`DEFINED`) and the states executions entered
(:data:`VISITED`). At the end of the run the plugin names the states no test entered and,
when the run was a FULL run of ``tests/workflows`` (every test module of the folder collected,
no test of it deselected), fails the run: a state no test enters is a branch nobody has run.
A targeted run (one file, ``-k``) only prints the list.

With pytest-xdist each worker collects every test and runs a share: workers send their
records and their full-run verdict to the main process in ``workeroutput``
(``pytest_testnodedown``), which merges them and decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

FOLDER = Path(__file__).parent
WORKER_KEY = "workflow_state_coverage"
VISITED: dict[str, set[str]] = {}
"""State machine logical ID -> states any test entered."""
DEFINED: dict[str, set[str]] = {}
"""State machine logical ID -> every state of its definition (Parallel branches included)."""
_RUN = {"full": False, "deselected": False}


def record(cloud: Any, machines: Iterable[str] | None = None) -> None:
    """Record the states of ``machines`` (default: every state machine ``cloud`` knows) and the
    states ``cloud``'s executions entered. Call it once a test's cloud is done."""
    for machine in cloud.definitions if machines is None else machines:
        DEFINED.setdefault(machine, states_of(cloud.definitions[machine]))
    for execution in cloud.executions:
        machine = execution.state_machine_arn.rsplit(":", 1)[-1]
        VISITED.setdefault(machine, set()).update(execution.visited)


def states_of(machine: dict[str, Any]) -> set[str]:
    names = set(machine["States"])
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            names |= states_of(branch)
    return names


def never_entered() -> dict[str, list[str]]:
    return {
        machine: sorted(states - VISITED.get(machine, set()))
        for machine, states in sorted(DEFINED.items())
        if states - VISITED.get(machine, set())
    }


def _in_folder(item: pytest.Item) -> bool:
    return Path(str(item.path)).parent == FOLDER


def pytest_deselected(items: list[pytest.Item]) -> None:
    if any(_in_folder(item) for item in items):
        _RUN["deselected"] = True


def pytest_collection_finish(session: pytest.Session) -> None:
    """A full run collects a test from every test module of the folder and deselects none."""
    modules = {path.name for path in FOLDER.glob("test_*.py")}
    collected = {Path(str(item.path)).name for item in session.items if _in_folder(item)}
    _RUN["full"] = bool(modules) and modules <= collected and not _RUN["deselected"]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Main process of an xdist run: merge a worker's records."""
    data = getattr(node, "workeroutput", {}).get(WORKER_KEY)
    if not data:
        return
    for machine, states in data["defined"].items():
        DEFINED.setdefault(machine, set()).update(states)
    for machine, states in data["visited"].items():
        VISITED.setdefault(machine, set()).update(states)
    _RUN["full"] = _RUN["full"] or bool(data["full"])


def pytest_sessionfinish(session: pytest.Session) -> None:
    config: Any = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: report to the main process
        config.workeroutput[WORKER_KEY] = {
            "defined": {m: sorted(s) for m, s in DEFINED.items()},
            "visited": {m: sorted(s) for m, s in VISITED.items()},
            "full": _RUN["full"],
        }
        return
    if _RUN["full"] and never_entered() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name every synthesized state no test entered (a branch without a test)."""
    if hasattr(terminalreporter.config, "workeroutput") or not DEFINED:
        return
    missing = never_entered()
    terminalreporter.write_line(
        "workflow states never entered: " + (json.dumps(missing, indent=1) if missing else "none")
    )
    if missing and _RUN["full"]:
        terminalreporter.write_line(
            "FAILED: a full run of tests/workflows must enter every workflow state; add a test "
            "for each state listed above",
            red=True,
            bold=True,
        )
