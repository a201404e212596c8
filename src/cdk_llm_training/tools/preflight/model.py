"""The result of a preflight check and how a report of them is printed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    """Outcome of one check."""

    PASS = "pass"
    """The account is ready for what the config asks."""
    WARNING = "warning"
    """The deploy succeeds, but something will not work as configured (or could not be
    checked)."""
    BLOCKER = "blocker"
    """The deploy, or the first job it runs, fails until this is fixed."""


@dataclass(frozen=True)
class Finding:
    """One row of the report.

    ``check`` names the check family (``sagemaker-quota``, ``ec2-quota``, ``bedrock-access``,
    ``workforce``, ``availability-zone``, ``instance-offering``, ``cdk-bootstrap``,
    ``cost-allocation-tag``, ``emr-serverless-quota``, ``bedrock-evaluation-inference``,
    ``bedrock-batch-quota``, ``credentials``); ``subject`` what was checked; ``detail`` what was
    found; ``fix`` the exact remedy (empty on a pass); ``source`` the config field that asks for
    it.
    """

    check: str
    status: Status
    subject: str
    detail: str
    fix: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


@dataclass(frozen=True)
class Report:
    """Every finding of one preflight run, for one account and Region."""

    account: str
    region: str
    stacks: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def blockers(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.BLOCKER]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.WARNING]

    def to_dict(self) -> dict[str, object]:
        return {
            "account": self.account,
            "region": self.region,
            "stacks": list(self.stacks),
            "ok": not self.blockers,
            "summary": {status.value: self._count(status) for status in Status},
            "findings": [finding.to_dict() for finding in self.findings],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def _count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    def render_text(self) -> str:
        """One row per check; the fix indented under a row that needs one."""
        header = (
            f"preflight: account {self.account}, Region {self.region}, "
            f"stacks {', '.join(self.stacks)}"
        )
        lines = [header, ""]
        width = max((len(f.check) for f in self.findings), default=0)
        for finding in self.findings:
            label = finding.status.value.upper()
            lines.append(
                f"{label:<8} {finding.check:<{width}}  {finding.subject}: {finding.detail}"
            )
            if finding.fix:
                lines.append(f"{'':<8} {'':<{width}}  fix: {finding.fix}")
        lines.append("")
        warnings = _plural(self._count(Status.WARNING), "warning")
        blockers = _plural(self._count(Status.BLOCKER), "blocker")
        lines.append(f"{self._count(Status.PASS)} passed, {warnings}, {blockers}")
        return "\n".join(lines) + "\n"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def sorted_findings(findings: Iterable[Finding], order: Sequence[str]) -> tuple[Finding, ...]:
    """Findings grouped by check family in ``order`` (unknown families last), stable inside."""
    rank = {name: index for index, name in enumerate(order)}
    return tuple(sorted(findings, key=lambda f: rank.get(f.check, len(rank))))
