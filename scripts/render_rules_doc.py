"""Render docs/reference/rules.md from the rule pack (`python scripts/render_rules_doc.py`).

A test compares the committed page with this output, so the page never drifts from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdk_llm_training.checks import ALL_RULES

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference" / "rules.md"

HEADER = """# LlmTrainingChecks rule reference

`LlmTrainingChecks` is the library's rule pack for training infrastructure: FSx for Lustre,
EFA security groups, SageMaker HyperPod, AWS ParallelCluster, Bedrock customization and Ground
Truth, which cdk-nag, cfn-lint and checkov do not cover. The rules read the synthesized
templates, so they also catch resources that were not made with this library's constructs.

```python
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_llm_training.checks import LlmTrainingChecks

app = cdk.App()
stack = cdk.Stack(app, "MyTraining")
s3.Bucket(stack, "Data")  # your resources here
cdk.Validations.of(app).add_plugins(LlmTrainingChecks())
app.synth()
```

Errors stop synthesis; warnings are reported (`LlmTrainingChecks(fail_on_warnings=True)` makes
them fail too). Acknowledge a finding the way you acknowledge cdk-nag rules, on the narrowest
construct and with a reason:

```python
cdk.Validations.of(workforce).acknowledge(
    cdk.Acknowledgment(id="LLM-GT1", reason="Contractors label from home networks.")
)
```

Run a subset with `LlmTrainingChecks(rule_ids=["LLM-FSX1", "LLM-EFA1"])`. The rules are also
usable without CDK: `cdk_llm_training.checks.check_template_file("cdk.out/X.template.json")`.

| id | severity | rule |
|---|---|---|
"""


def render() -> str:
    table = "".join(f"| {r.rule_id} | {r.severity} | {r.description} |\n" for r in ALL_RULES)
    sections = "".join(
        f"\n## {r.rule_id}: {r.description}\n\nSeverity: {r.severity}.\n\n"
        f"**Why.** {r.why}\n\n**Fix.** {r.fix}\n"
        for r in ALL_RULES
    )
    return HEADER + table + sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=DOC, help="Markdown file to write (default %(default)s)"
    )
    out: Path = parser.parse_args(argv).out
    out.write_text(render(), encoding="utf-8")
    print(f"wrote {out.name} ({len(ALL_RULES)} rules)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
