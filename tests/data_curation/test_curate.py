"""The curation script on CPU over a small generated corpus with a faked Comprehend."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from data_curation.comprehend_fake import MAX_TEXT_BYTES, FakeComprehend
from data_curation.corpus import Corpus, build_corpus, write_corpus

from cdk_llm_training.assets.curation.card import CARD_NAME
from cdk_llm_training.assets.curation.config import CurationConfig, PiiConfig
from cdk_llm_training.assets.curation.curate import curate, main
from cdk_llm_training.assets.curation.normalise import normalise
from cdk_llm_training.assets.curation.pii import PiiEntity, PiiScanner, redact, split_to_fit
from cdk_llm_training.assets.curation.quality import failed_check


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
def redacted_run(
    corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path, FakeComprehend]:
    root = tmp_path_factory.mktemp("redact")
    write_corpus(corpus, root / "raw")
    fake = FakeComprehend()
    card = curate(
        input_dir=root / "raw",
        output_dir=root / "curated",
        config=CurationConfig(max_records_per_output_file=25),
        comprehend=fake.client,
        source_uris=["s3://lake-raw/corpus/"],
        output_uri="s3://lake-curated/corpus/",
    )
    return card, root / "curated", fake


def test_normalise_folds_unicode_and_whitespace() -> None:
    raw = "\ufeffThe \ufb01le\u200b  has\t\ttabs\r\nand\u00a0nbsp\x07.\r\n\r\n\r\n\r\nNext  "
    assert normalise(raw) == "The file has tabs\nand nbsp.\n\nNext"
    assert normalise("\uff21\u0301", "NFC") == "\uff21\u0301"  # NFC keeps full-width A
    assert normalise("\uff21\u0301", "NFKC") == "\u00c1"


def test_card_counts_add_up(corpus: Corpus, redacted_run: tuple[Any, Path, Any]) -> None:
    card, output, _ = redacted_run
    counts = card["counts"]
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
    assert counts["output_records"] + counts["removed_total"] == counts["input_records"]
    assert len(_records(output)) == corpus.kept


def test_exact_duplicates_keep_the_first_copy_only(
    corpus: Corpus, redacted_run: tuple[Any, Path, Any]
) -> None:
    _, output, _ = redacted_run
    texts = [record["text"] for record in _records(output)]
    assert len(texts) == len(set(texts))
    for original in corpus.unique[:10]:
        assert texts.count(original) == 1
    # The first copy keeps its other fields.
    first = next(r for r in _records(output) if r["text"] == corpus.unique[0])
    assert first["source"] == "gen"


def test_near_duplicates_removed_distant_variants_kept(
    corpus: Corpus, redacted_run: tuple[Any, Path, Any]
) -> None:
    _, output, _ = redacted_run
    texts = {record["text"] for record in _records(output)}
    assert set(corpus.unique) <= texts
    edited = [t for t in texts if "zzedit" in t]
    assert len(edited) == corpus.distant_variants


def test_pii_redacted(redacted_run: tuple[Any, Path, FakeComprehend], corpus: Corpus) -> None:
    card, output, fake = redacted_run
    redacted = [r["text"] for r in _records(output) if "[EMAIL]" in r["text"]]
    assert len(redacted) == corpus.with_pii
    for text in redacted:
        assert "@example.com" not in text
        assert text.endswith("Write to [EMAIL] or call [PHONE].")
    assert card["pii"]["records_redacted"] == corpus.with_pii
    assert card["pii"]["entities_by_type"] == {"EMAIL": 5, "PHONE": 5}
    # Packed: far fewer calls than records, every request under the API's 100 KB.
    assert card["pii"]["comprehend_calls"] == len(fake.requests) < corpus.kept / 5
    assert all(len(r["Text"].encode()) <= MAX_TEXT_BYTES for r in fake.requests)
    assert {r["LanguageCode"] for r in fake.requests} == {"en"}


def test_card_lineage_hashes_and_config(
    corpus: Corpus, redacted_run: tuple[Any, Path, Any]
) -> None:
    card, output, _ = redacted_run
    assert json.loads((output / CARD_NAME).read_text()) == card
    assert card["lineage"] == {
        "sources": ["s3://lake-raw/corpus/"],
        "output": "s3://lake-curated/corpus/",
    }
    assert [i["path"] for i in card["inputs"]] == ["part-a.jsonl", "sub/part-b.jsonl.gz"]
    assert sum(i["records"] for i in card["inputs"]) == card["counts"]["input_records"]
    assert len(card["outputs"]) == -(-corpus.kept // 25)  # 25 records per file
    for part in card["outputs"]:
        data = (output / part["path"]).read_bytes()
        assert part["sha256"] == hashlib.sha256(data).hexdigest()
        assert part["bytes"] == len(data)
        assert part["records"] == data.count(b"\n")
    assert card["config"]["near_duplicates"]["threshold"] == 0.8
    assert card["config"]["pii"]["mode"] == "redact"
    assert card["tools"]["datasketch"]


def test_pii_drop_mode_removes_records(corpus: Corpus, tmp_path: Path) -> None:
    write_corpus(corpus, tmp_path / "raw")
    card = curate(
        input_dir=tmp_path / "raw",
        output_dir=tmp_path / "out",
        config=CurationConfig(pii=PiiConfig(mode="drop")),
        comprehend=FakeComprehend().client,
    )
    assert card["counts"]["removed"]["pii"] == corpus.with_pii
    assert card["counts"]["output_records"] == corpus.kept - corpus.with_pii
    assert "@example.com" not in (tmp_path / "out" / "part-00000.jsonl").read_text()


def test_long_document_split_into_requests_and_offsets_mapped() -> None:
    fake = FakeComprehend()
    scanner = PiiScanner(fake.client, PiiConfig())
    filler = "word " * 50_000  # 250 KB: three chunks of at most 99,000 bytes
    texts = ["short one mail a@b.org", filler + "end x.y@example.org"]
    found = scanner.find(texts)
    assert found[0] == [PiiEntity("EMAIL", 15, 22, 0.99)]
    (entity,) = found[1]
    assert texts[1][entity.begin : entity.end] == "x.y@example.org"
    # The short text does not fit beside a full chunk: 1 + 3 requests, in order.
    assert scanner.calls == len(fake.requests) == 4
    assert fake.requests[0]["Text"] == texts[0]
    assert all(len(r["Text"].encode()) <= 99_000 for r in fake.requests)


def test_split_to_fit_respects_utf8_bytes() -> None:
    text = "é" * 1000 + " " + "ü" * 1000
    pieces = list(split_to_fit(text, 1500))
    assert "".join(p for _, p in pieces) == text
    assert all(len(p.encode()) <= 1500 for _, p in pieces)
    assert [o for o, _ in pieces] == [
        0,
        *[len("".join(p for _, p in pieces[:i])) for i in range(1, len(pieces))],
    ]


def test_entity_filters_by_type_and_score() -> None:
    fake = FakeComprehend()
    scanner = PiiScanner(fake.client, PiiConfig(entity_types=("PHONE",)))
    (found,) = scanner.find(["mail a@b.org or 555-000-1111"])
    assert [e.type for e in found] == ["PHONE"]
    strict = PiiScanner(fake.client, PiiConfig(min_score=0.999))
    assert strict.find(["mail a@b.org"]) == [[]]


def test_redact_merges_overlaps() -> None:
    text = "Call Jane Doe at 555-000-1111."
    entities = [
        PiiEntity("NAME", 5, 13, 0.9),
        PiiEntity("NAME", 10, 13, 0.8),
        PiiEntity("PHONE", 17, 29, 0.9),
    ]
    assert redact(text, entities) == "Call [NAME] at [PHONE]."


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("tiny", "too_short"),
        ("incomprehensibilities unconstitutionally antidisestablishmentarian", "too_few_words"),
        ("x " * 200_001, "too_long"),
        ("12 34 56 78 90 " * 10, "low_alpha"),
        ("the same line here\n" * 5 + "and another different one", "repeated_lines"),
        ("buy cheap pills now " * 10, "repeated_ngrams"),
        ("A fine paragraph of ordinary prose that says something new each time it speaks.", None),
    ],
)
def test_quality_checks(text: str, reason: str | None) -> None:
    config = CurationConfig().quality
    assert failed_check(normalise(text), config) == reason


def test_missing_text_field_and_txt_inputs(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.jsonl").write_text('{"body": "x"}\n{"text": 3}\n[1, 2]\n')
    sentence = "Plain text files hold one document on each line of the file here."
    (raw / "b.txt").write_text(f"{sentence}\n\n{sentence}\n")
    (raw / "ignored.csv").write_text("a,b\n")
    card = curate(
        input_dir=raw,
        output_dir=tmp_path / "out",
        config=CurationConfig.from_dict({"pii": {"mode": "off"}}),
    )
    assert card["counts"]["removed"]["missing_text"] == 2
    assert card["counts"]["removed"]["invalid_json"] == 1
    assert card["counts"]["removed"]["exact_duplicate"] == 1
    assert _records(tmp_path / "out") == [{"text": sentence}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pii": {"language_code": "fr"}}, "pii.language_code is 'fr'"),
        ({"pii": {"mode": "mask"}}, "pii.mode is 'mask'"),
        ({"pii": {"max_request_bytes": 200_000}}, "pii.max_request_bytes is 200000"),
        ({"near_duplicates": {"threshold": 1.5}}, "near_duplicates.threshold is 1.5"),
        ({"text_fields": []}, "text_fields is empty"),
        ({"dedup": True}, "config has unknown fields ['dedup']"),
        ({"quality": {"min_len": 3}}, "quality has unknown fields ['min_len']"),
    ],
)
def test_config_refused_with_the_field_named(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CurationConfig.from_dict(data)


def test_main_runs_without_comprehend_when_pii_off(tmp_path: Path, corpus: Corpus) -> None:
    write_corpus(corpus, tmp_path / "raw")
    config = json.dumps({"pii": {"mode": "off"}})
    argv = ["--input-dir", str(tmp_path / "raw"), "--output-dir", str(tmp_path / "out")]
    assert main([*argv, "--config", config, "--source-uri", "s3://b/raw/"]) == 0
    card = json.loads((tmp_path / "out" / CARD_NAME).read_text())
    assert card["lineage"]["sources"] == ["s3://b/raw/"]
    assert card["pii"]["comprehend_calls"] == 0
    assert main([*argv, "--config", '{"pii": {"mode": "mask"}}']) == 2
