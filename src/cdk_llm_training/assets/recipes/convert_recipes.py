"""Convert a checked-out aws/sagemaker-hyperpod-recipes release to a JSON catalog.

Runs in the deploy-time CodeBuild build of ClusterTrainingRun (Python 3 with PyYAML), after
the build verified the release archive's commit. Writes under ``--out``:

- ``recipes/<name>.json``: each ``recipes_collection/recipes/<name>.yaml`` as JSON (the
  release's recipes are complete documents: no Hydra defaults list to compose);
- ``index.json``: ``repository``, ``release``, ``commit``, ``archiveSha256`` and, per recipe
  name, its ``modelType``, ``displayName`` and ``images`` (Region -> the container image the
  launcher uses on a Kubernetes cluster: the first pattern of
  ``launcher/recipe_templatization/<family>/<family>_regional_parameters.json`` contained in
  the recipe's file name, its ``k8s.container_image.prod`` map).

Usage: ``python3 convert_recipes.py --source DIR --out DIR --repository R --release T
--commit C --archive-sha256 S``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RECIPES_DIR = "recipes_collection/recipes"
TEMPLATIZATION_DIR = "launcher/recipe_templatization"
FAMILIES = {
    "llm_finetuning_aws": "llmft",
    "hf": "llmft",
    "verl": "verl",
    "hyperpod_checkpointless_nemo": "checkpointless",
    "mtrl": "mtrl",
}
"""``run.model_type`` -> the launcher's recipe template processor folder."""


def regional_images(source: Path, family: str, file_stem: str) -> dict[str, str]:
    """Region -> image of the first pattern of ``family``'s regional parameters that is
    contained in ``file_stem`` (the launcher's substring match); empty when none."""
    path = source / TEMPLATIZATION_DIR / family / f"{family}_regional_parameters.json"
    if not path.is_file():
        return {}
    parameters: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for pattern, option in parameters.items():
        if pattern.startswith("_") or pattern not in file_stem or not isinstance(option, dict):
            continue
        images = option.get("k8s", {}).get("container_image", {}).get("prod", {})
        return {str(region): str(uri) for region, uri in images.items()}
    return {}


def convert(source: Path, out: Path, meta: dict[str, str], load: Any) -> dict[str, Any]:
    """Write the catalog of the release checked out at ``source``; return the index.
    ``load`` parses one YAML document (``yaml.safe_load``)."""
    root = source / RECIPES_DIR
    recipes: dict[str, Any] = {}
    for path in sorted(root.rglob("*.yaml")):
        name = path.relative_to(root).with_suffix("").as_posix()
        document = load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            continue
        target = out / "recipes" / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
        model_type = (document.get("run") or {}).get("model_type")
        family = FAMILIES.get(str(model_type))
        recipes[name] = {
            "modelType": model_type,
            "displayName": document.get("display_name"),
            "images": regional_images(source, family, path.stem) if family else {},
        }
    if not recipes:
        raise SystemExit(f"no recipes under {root}: is this a recipes release?")
    index = {**meta, "recipes": recipes}
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.json").write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
    return index


def main() -> None:
    import yaml  # present in the build only

    parser = argparse.ArgumentParser(description=__doc__)
    for option in ("source", "out", "repository", "release", "commit", "archive-sha256"):
        parser.add_argument(f"--{option}", required=True)
    args = parser.parse_args()
    meta = {
        "repository": args.repository,
        "release": args.release,
        "commit": args.commit,
        "archiveSha256": args.archive_sha256,
    }
    index = convert(Path(args.source), Path(args.out), meta, yaml.safe_load)
    print(f"converted {len(index['recipes'])} recipes of {args.repository} {args.release}")


if __name__ == "__main__":
    main()
