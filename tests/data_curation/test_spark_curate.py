"""The Spark curation job (EMR Serverless engine) on a local CPU SparkSession over the same
generated corpus as the Processing script's tests: the same counts, the same records."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_curation.comprehend_fake import FakeComprehend
from data_curation.corpus import Corpus, build_corpus, write_corpus
from data_curation.spark_fake import fake_comprehend_client

from cdk_llm_training.assets.curation.card import CARD_NAME
from cdk_llm_training.assets.curation.config import CurationConfig
from cdk_llm_training.assets.curation.curate import curate
from cdk_llm_training.assets.curation.spark_curate import curate_spark, lsh_hash_tables

pyspark = pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    path = os.pathsep.join(p for p in sys.path if p)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("curation-tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.executorEnv.PYTHONPATH", path)
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def _records(root: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(root.glob("part-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


@pytest.fixture(scope="module")
def runs(spark: Any, corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Spark job and the Processing script over the same raw files."""
    root = tmp_path_factory.mktemp("spark")
    write_corpus(corpus, root / "raw")
    config = CurationConfig(max_records_per_output_file=25)
    card = curate_spark(
        spark,
        input_uri=str(root / "raw"),
        output_uri=str(root / "curated"),
        config=config,
        client_factory=fake_comprehend_client,
        source_uris=["s3://lake-raw/corpus/"],
        pii_partitions=2,
    )
    reference = curate(
        input_dir=root / "raw",
        output_dir=root / "reference",
        config=config,
        comprehend=FakeComprehend().client,
    )
    return {"card": card, "out": root / "curated", "reference": reference, "root": root}


def test_card_counts_match_the_corpus_and_the_processing_job(
    corpus: Corpus, runs: dict[str, Any]
) -> None:
    counts = runs["card"]["counts"]
    assert counts["input_records"] == corpus.total
    assert counts["removed"] == {
        "invalid_json": corpus.invalid_json,
        "missing_text": 0,
        "too_short": corpus.too_short,
        "too_long": 0,
        "too_few_words": 0,
        "low_alpha": corpus.low_alpha,
        "repeated_lines": corpus.repeated_lines,
        "repeated_ngrams": 0,
        "exact_duplicate": corpus.exact_duplicates,
        "near_duplicate": corpus.near_duplicates,
        "pii": 0,
    }
    assert counts["output_records"] == corpus.kept
    assert counts == runs["reference"]["counts"]


def test_same_records_in_the_same_order_as_the_processing_job(runs: dict[str, Any]) -> None:
    assert _records(runs["out"]) == _records(runs["root"] / "reference")


def test_exact_duplicates_keep_the_first_copy(corpus: Corpus, runs: dict[str, Any]) -> None:
    records = _records(runs["out"])
    texts = [r["text"] for r in records]
    assert len(texts) == len(set(texts))
    assert next(r for r in records if r["text"] == corpus.unique[0])["source"] == "gen"


def test_near_duplicates_removed_distant_variants_kept(
    corpus: Corpus, runs: dict[str, Any]
) -> None:
    texts = {r["text"] for r in _records(runs["out"])}
    assert set(corpus.unique) <= texts
    assert sum("zzedit" in t for t in texts) == corpus.distant_variants


def test_pii_redacted_by_the_executors(corpus: Corpus, runs: dict[str, Any]) -> None:
    card = runs["card"]
    redacted = [r["text"] for r in _records(runs["out"]) if "[EMAIL]" in r["text"]]
    assert len(redacted) == corpus.with_pii
    assert all(t.endswith("Write to [EMAIL] or call [PHONE].") for t in redacted)
    assert card["pii"]["records_redacted"] == corpus.with_pii
    assert card["pii"]["entities_by_type"] == {"EMAIL": 5, "PHONE": 5}
    assert 0 < card["pii"]["comprehend_calls"] <= 2 * 2  # packed, per PII partition
    assert card["pii"]["comprehend_request_bytes"] > 0


def test_card_hashes_lineage_and_tools(corpus: Corpus, runs: dict[str, Any]) -> None:
    card, out = runs["card"], runs["out"]
    assert json.loads((out / CARD_NAME).read_text()) == card
    assert card["lineage"]["sources"] == ["s3://lake-raw/corpus/"]
    assert [i["path"] for i in card["inputs"]] == ["part-a.jsonl", "sub/part-b.jsonl.gz"]
    assert card["inputs"] == runs["reference"]["inputs"]  # same SHA-256, bytes, records
    assert [o["path"] for o in card["outputs"]] == [
        f"part-{i:05d}.jsonl" for i in range(-(-corpus.kept // 25))
    ]
    for part in card["outputs"]:
        data = (out / part["path"]).read_bytes()
        assert part["sha256"] == hashlib.sha256(data).hexdigest()
        assert (part["bytes"], part["records"]) == (len(data), data.count(b"\n"))
    assert card["outputs"] == runs["reference"]["outputs"]  # byte-identical files
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [CARD_NAME, *(o["path"] for o in card["outputs"])]
    )
    assert card["config"] == runs["reference"]["config"]
    assert card["tools"]["near_duplicates"] == "pyspark.ml MinHashLSH, 5 hash tables"


def test_drop_mode_rename_and_no_near_dedup(spark: Any, corpus: Corpus, tmp_path: Path) -> None:
    write_corpus(corpus, tmp_path / "raw")
    config = CurationConfig.from_dict(
        {
            "pii": {"mode": "drop"},
            "rename_fields": {"text": "input"},
            "near_duplicates": {"enabled": False},
        }
    )
    card = curate_spark(
        spark,
        input_uri=str(tmp_path / "raw"),
        output_uri=str(tmp_path / "out"),
        config=config,
        client_factory=fake_comprehend_client,
    )
    assert card["counts"]["removed"]["pii"] == corpus.with_pii
    assert card["counts"]["removed"]["near_duplicate"] == 0
    kept = corpus.kept + corpus.near_duplicates - corpus.with_pii  # near copies stay
    assert card["counts"]["output_records"] == kept
    records = _records(tmp_path / "out")
    assert len(records) == kept
    assert [o["path"] for o in card["outputs"]] == ["part-00000.jsonl"]
    assert all("input" in r and "text" not in r for r in records)
    assert not any("@example.com" in r["input"] for r in records)


def test_everything_filtered_writes_no_part_and_an_honest_card(spark: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"text": "too short"}\n' * 3 + "\n")
    (raw / "ignored.csv").write_text("a,b\n")
    card = curate_spark(
        spark,
        input_uri=str(raw),
        output_uri=str(tmp_path / "out"),
        config=CurationConfig.from_dict({"pii": {"mode": "off"}}),
    )
    assert card["counts"]["input_records"] == 3
    assert card["counts"]["removed"]["too_short"] == 3
    assert card["outputs"] == []
    assert [i["path"] for i in card["inputs"]] == ["a.jsonl"]


def test_pii_needs_a_client(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"pii\.mode is 'redact' but no Comprehend client"):
        curate_spark(
            spark, input_uri=str(tmp_path), output_uri=str(tmp_path / "o"), config=CurationConfig()
        )


@pytest.mark.parametrize(("threshold", "tables"), [(0.8, 5), (0.5, 10), (0.95, 3), (1.0, 1)])
def test_hash_tables_reach_the_recall_at_the_threshold(threshold: float, tables: int) -> None:
    assert lsh_hash_tables(threshold) == tables
    assert 1 - (1 - threshold) ** tables >= 0.999 or threshold == 1.0
