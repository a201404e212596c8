"""Raw -> curated text curation on Apache Spark (the EMR Serverless engine).

The same stages, settings and dataset card as ``curate.py`` (the Processing engine), spread
over a Spark cluster. Each stage's per-record work is the Processing script's own functions
(``parse_line``, ``prepare_record``, ``apply_pii``, ``rename_fields``), so the two engines
cannot drift; what changes is how the corpus-wide stages are done:

- **order**: "first seen wins" as in the Processing job: input files sorted by path, lines
  in file order (a file's line position is Spark's ``monotonically_increasing_id``, which
  grows with the byte offset within one file);
- **exact duplicates**: the normalised text's digest; the first record of each digest is
  kept;
- **near duplicates**: ``pyspark.ml.feature.MinHashLSH`` over the same word shingles. Chosen
  over datasketch per partition because LSH must compare documents across partitions (a
  per-partition index would miss every pair split across partitions) and because it needs
  no Python package the EMR Serverless image may lack. A candidate pair is confirmed on its
  Jaccard similarity (of the shingle sets hashed to 2^30 features), so a document is removed
  when its similarity with an earlier document is at or above ``threshold`` -- the documented
  threshold semantics. The number of hash tables is the smallest that finds a pair at the
  threshold with probability 99.9% or more (``lsh_hash_tables``). One difference from the
  sequential job: in a chain A ~ B ~ C where A and C are not similar, the Processing job
  keeps C (B was removed, so C is compared with A only) while this job removes C too;
- **PII**: Amazon Comprehend ``DetectPiiEntities`` from the executors, the Processing job's
  packing (:class:`PiiScanner`), in at most ``pii_partitions`` concurrent tasks so the
  account's Comprehend request rate is not exceeded (each client retries throttling
  adaptively);
- **output**: ``part-NNNNN.jsonl`` files (one unless ``max_records_per_output_file``) and
  ``dataset_card.json`` under ``--output-uri``.

Run by EMR Serverless as the entry point with this package in ``--py-files``:
``--input-uri s3://raw/corpora/x/ --output-uri s3://curated/finetune/curated/<run>/
--set <path>=<JSON> ... --region <Region>``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

from .card import CARD_NAME, CurationStats, FileRecord, build_card
from .config import CurationConfig
from .curate import (
    INPUT_SUFFIXES,
    PII_BUFFER_RECORDS,
    apply_pii,
    comprehend_client,
    parse_line,
    prepare_record,
    rename_fields,
)
from .dedup import shingles, text_digest
from .pii import ComprehendClient, PiiScanner

HASHED_FEATURES = 1 << 30
"""Shingles are hashed into this many MinHash features: collisions are rare enough not to
move a Jaccard similarity measurably, and it stays under MinHashLSH's prime modulus."""
LSH_RECALL = 0.999
"""Probability that a pair exactly at the threshold becomes a candidate."""
MAX_HASHED_FILE_BYTES = (1 << 31) - 1
"""Spark's binaryFile source reads a file into one array: larger files are hashed by
streaming on the driver."""
DEFAULT_PII_PARTITIONS = 8


def lsh_hash_tables(threshold: float, recall: float = LSH_RECALL) -> int:
    """Hash tables (OR-amplification) so that a pair of Jaccard similarity ``threshold`` is
    a candidate with probability ``recall``: ``1 - (1 - t)^k >= recall``."""
    if threshold >= 1:
        return 1
    return max(1, math.ceil(math.log(1 - recall) / math.log(1 - threshold)))


def _path_key(uri: str) -> tuple[str, str, str]:
    """One spelling of a file URI (``file:/a``, ``file:///a`` and percent-encoding agree)."""
    parts = urlsplit(uri)
    return parts.scheme or "file", parts.netloc, unquote(parts.path)


def _is_input(path: str) -> bool:
    return path.rsplit("/", 1)[-1].removesuffix(".gz").endswith(INPUT_SUFFIXES)


# -- Hadoop file system (through the JVM, so s3:// and file: paths work alike) ------------


class _Files:
    """Lists, hashes, renames and writes files with Hadoop's FileSystem of ``uri``."""

    def __init__(self, spark: Any, uri: str) -> None:
        self._spark = spark
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self.root = self._path(uri.rstrip("/") or uri)
        self.fs = self.root.getFileSystem(self._conf)
        self.root_uri = str(self.fs.makeQualified(self.root).toString())

    def _path(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def child(self, name: str) -> str:
        return f"{self.root_uri}/{name}"

    def list_files(self) -> list[tuple[str, int]]:
        """``(qualified path, bytes)`` of every file below the root, sorted by path."""
        found: list[tuple[str, int]] = []
        if not self.fs.exists(self.root):
            return found
        files = self.fs.listFiles(self.root, True)
        while files.hasNext():
            status = files.next()
            found.append((str(status.getPath().toString()), int(status.getLen())))
        return sorted(found)

    def relative(self, path: str) -> str:
        root = _path_key(self.root_uri)[2].rstrip("/") + "/"
        return _path_key(path)[2].removeprefix(root)

    def sha256(self, paths: Sequence[tuple[str, int]]) -> dict[tuple[str, str, str], str]:
        """SHA-256 of each file: in parallel with the binaryFile source up to 2 GiB, by
        streaming on the driver above."""
        small = [path for path, size in paths if size <= MAX_HASHED_FILE_BYTES]
        digests: dict[tuple[str, str, str], str] = {}
        if small:
            from pyspark.sql import functions as F  # noqa: N812 - Spark's convention

            frame = self._spark.read.format("binaryFile").load(small)
            for row in frame.select("path", F.sha2("content", 256).alias("sha")).collect():
                digests[_path_key(row["path"])] = row["sha"]
        for path, size in paths:
            if size > MAX_HASHED_FILE_BYTES:
                stream = self.fs.open(self._path(path))
                try:
                    codec = self._jvm.org.apache.commons.codec.digest.DigestUtils
                    digests[_path_key(path)] = str(codec.sha256Hex(stream))
                finally:
                    stream.close()
        return digests

    def write_text(self, uri: str, text: str) -> None:
        stream = self.fs.create(self._path(uri), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()

    def move(self, source: str, target: str) -> None:
        target_path = self._path(target)
        if self.fs.exists(target_path):
            self.fs.delete(target_path, False)
        if not self.fs.rename(self._path(source), target_path):
            raise RuntimeError(f"could not move {source} to {target}")

    def delete(self, uri: str) -> None:
        self.fs.delete(self._path(uri), True)

    def size(self, uri: str) -> int:
        return int(self.fs.getFileStatus(self._path(uri)).getLen())


# -- per-partition work (runs in the executors' Python workers) ------------------------------


def _prepare_partition(
    rows: Iterable[Any], config: CurationConfig, ranks: dict[tuple[str, str, str], int]
) -> Iterator[tuple[Any, ...]]:
    """Raw lines -> ``(rank, position, reason, record JSON, digest, shingles)``: parsed,
    normalised and quality-checked by the Processing job's functions."""
    near = config.near_duplicates
    for row in rows:
        path, position, line = row[0], row[1], row[2]
        rank = ranks[_path_key(path)]
        text_file = path.rsplit("/", 1)[-1].removesuffix(".gz").endswith(".txt")
        parsed = parse_line(line, text_file=text_file, config=config)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            yield rank, position, parsed, None, None, None
            continue
        text, reason = prepare_record(parsed, config)
        if reason is not None:
            yield rank, position, reason, None, None, None
            continue
        grams = (
            sorted(gram.decode("utf-8") for gram in shingles(text, near.shingle_words))
            if near.enabled
            else None
        )
        digest = text_digest(text)
        yield rank, position, None, json.dumps(parsed, ensure_ascii=False), digest, grams


def _pii_partition(
    rows: Iterable[Any],
    config: CurationConfig,
    client_factory: Callable[[], ComprehendClient],
) -> Iterator[tuple[Any, ...]]:
    """Kept records -> ``(rank, position, record JSON or None when dropped)``, then one
    statistics row (rank -1) with this partition's entity counts, redactions and calls."""
    scanner = PiiScanner(client_factory(), config.pii)
    stats = CurationStats()
    batch: list[tuple[int, int, dict[str, Any]]] = []

    def flush() -> Iterator[tuple[Any, ...]]:
        records = [record for _, _, record in batch]
        for (rank, position, _), out in zip(
            batch, apply_pii(records, scanner, config, stats), strict=True
        ):
            yield rank, position, None if out is None else json.dumps(out, ensure_ascii=False)
        batch.clear()

    size = 0
    for row in rows:
        record = json.loads(row[2])
        batch.append((row[0], row[1], record))
        size += sum(len(record.get(name, "")) for name in config.text_fields)
        if len(batch) >= PII_BUFFER_RECORDS or size >= 4 * config.pii.max_request_bytes:
            yield from flush()
            size = 0
    if batch:
        yield from flush()
    summary = {
        "redacted": stats.pii_records_redacted,
        "entities": dict(stats.pii_entities),
        "calls": stats.pii_calls,
        "bytes": stats.pii_request_bytes,
    }
    yield -1, -1, json.dumps(summary)


def _rename(line: str, config: CurationConfig) -> str:
    return json.dumps(rename_fields(json.loads(line), config), ensure_ascii=False)


# -- the job ------------------------------------------------------------------------------


def curate_spark(
    spark: Any,
    *,
    input_uri: str,
    output_uri: str,
    config: CurationConfig,
    client_factory: Callable[[], ComprehendClient] | None = None,
    source_uris: Sequence[str] = (),
    pii_partitions: int = DEFAULT_PII_PARTITIONS,
) -> dict[str, Any]:
    """Curate every input file below ``input_uri`` into ``output_uri``; write and return the
    dataset card (the Processing job's format)."""
    from pyspark.ml.feature import HashingTF, MinHashLSH
    from pyspark.sql import Window
    from pyspark.sql import functions as F  # noqa: N812 - Spark's convention
    from pyspark.sql import types as T  # noqa: N812

    if config.pii.mode != "off" and client_factory is None:
        raise ValueError(f"pii.mode is {config.pii.mode!r} but no Comprehend client")
    source = _Files(spark, input_uri)
    target = _Files(spark, output_uri)
    files = [(path, size) for path, size in source.list_files() if _is_input(path)]
    ranks = {_path_key(path): rank for rank, (path, _) in enumerate(files)}
    stats = CurationStats()

    # 1. Parse, normalise, filter (per record, the Processing job's functions).
    prepared_schema = T.StructType(
        [
            T.StructField("rank", T.IntegerType()),
            T.StructField("pos", T.LongType()),
            T.StructField("reason", T.StringType()),
            T.StructField("record", T.StringType()),
            T.StructField("digest", T.BinaryType()),
            T.StructField("shingles", T.ArrayType(T.StringType())),
        ]
    )
    if files:
        lines = spark.read.text([path for path, _ in files]).select(
            F.input_file_name().alias("path"),
            F.monotonically_increasing_id().alias("pos"),
            "value",
        )
        prepared = spark.createDataFrame(
            lines.rdd.mapPartitions(partial(_prepare_partition, config=config, ranks=ranks)),
            prepared_schema,
        ).persist()
    else:
        prepared = spark.createDataFrame([], prepared_schema)
    per_file: Counter[int] = Counter()
    for rank, reason, count in prepared.groupBy("rank", "reason").count().collect():
        per_file[rank] += count
        if reason is not None:
            stats.removed[reason] += count
    stats.input_records = sum(per_file.values())
    kept = prepared.where("reason IS NULL").drop("reason")

    # 2. Exact duplicates: the first record of each normalised text.
    first = Window.partitionBy("digest").orderBy("rank", "pos")
    ranked = kept.withColumn("copy", F.row_number().over(first))
    kept = ranked.where("copy = 1").drop("copy", "digest").persist()
    stats.removed["exact_duplicate"] = ranked.where("copy > 1").count()

    # 3. Near duplicates: MinHash LSH candidates, confirmed on their Jaccard distance.
    near = config.near_duplicates
    hash_tables = lsh_hash_tables(near.threshold)
    if near.enabled:
        hashed = HashingTF(
            inputCol="shingles", outputCol="features", numFeatures=HASHED_FEATURES, binary=True
        ).transform(kept)
        model = MinHashLSH(
            inputCol="features", outputCol="hashes", numHashTables=hash_tables, seed=near.seed
        ).fit(hashed)
        # approxSimilarityJoin keeps distances strictly below its threshold: the epsilon
        # makes "similarity >= threshold" inclusive.
        pairs = model.approxSimilarityJoin(hashed, hashed, 1 - near.threshold + 1e-9, "d")
        earlier = (F.col("datasetA.rank") < F.col("datasetB.rank")) | (
            (F.col("datasetA.rank") == F.col("datasetB.rank"))
            & (F.col("datasetA.pos") < F.col("datasetB.pos"))
        )
        copies = (
            pairs.where(earlier)
            .select(F.col("datasetB.rank").alias("rank"), F.col("datasetB.pos").alias("pos"))
            .distinct()
        )
        deduped = kept.join(copies, ["rank", "pos"], "left_anti")
        stats.removed["near_duplicate"] = copies.count()
    else:
        deduped = kept
    survivors = deduped.select("rank", "pos", "record")

    # 4. PII: Comprehend from at most pii_partitions concurrent tasks.
    if config.pii.mode != "off":
        assert client_factory is not None
        scanned = (
            survivors.repartition(max(1, pii_partitions))
            .rdd.mapPartitions(
                partial(_pii_partition, config=config, client_factory=client_factory)
            )
            .toDF("rank INT, pos LONG, record STRING")
            .persist()
        )
        for row in scanned.where("rank = -1").collect():
            summary = json.loads(row["record"])
            stats.pii_records_redacted += summary["redacted"]
            stats.pii_entities.update(Counter(summary["entities"]))
            stats.pii_calls += summary["calls"]
            stats.pii_request_bytes += summary["bytes"]
        stats.removed["pii"] = scanned.where("rank >= 0 AND record IS NULL").count()
        survivors = scanned.where("rank >= 0 AND record IS NOT NULL")

    # 5. Write part files in input order, then the card.
    outputs = _write_parts(spark, survivors, target, config)
    stats.output_records = sum(part.records for part in outputs)
    digests = source.sha256(files)
    inputs = [
        FileRecord(
            path=source.relative(path),
            sha256=digests[_path_key(path)],
            bytes=size,
            records=per_file.get(rank, 0),
        )
        for rank, (path, size) in enumerate(files)
    ]
    card = build_card(
        stats=stats,
        config=config.to_dict(),
        inputs=inputs,
        outputs=outputs,
        source_uris=list(source_uris),
        output_uri=output_uri,
        tool_versions={
            "spark": str(spark.version),
            "near_duplicates": f"pyspark.ml MinHashLSH, {hash_tables} hash tables",
        },
    )
    target.write_text(target.child(CARD_NAME), json.dumps(card, indent=2) + "\n")
    prepared.unpersist()
    return card


def _write_parts(
    spark: Any, records: Any, target: _Files, config: CurationConfig
) -> list[FileRecord]:
    """``part-NNNNN.jsonl`` in input order, ``max_records_per_output_file`` each (default:
    one file), with their sizes, record counts and SHA-256."""
    from pyspark.sql import functions as F  # noqa: N812

    per_file = config.max_records_per_output_file
    ordered = records.orderBy("rank", "pos").select("record").rdd.map(lambda row: row[0])
    numbered = ordered.zipWithIndex().map(
        lambda pair: (
            _rename(pair[0], config),
            pair[1],
            0 if per_file is None else pair[1] // per_file,
        )
    )
    frame = spark.createDataFrame(numbered, "value STRING, idx LONG, part LONG")
    counts = dict(frame.groupBy("part").count().rdd.map(tuple).collect())
    staging = target.child("_staging")
    (
        frame.repartition("part")
        .sortWithinPartitions("idx")
        .select("value", F.col("part"))
        .write.mode("overwrite")
        .partitionBy("part")
        .option("compression", "none")
        .text(staging)
    )
    staged = _Files(spark, staging)
    outputs: list[FileRecord] = []
    written = {
        int(path.rsplit("/part=", 1)[1].split("/", 1)[0]): path
        for path, _ in staged.list_files()
        if "/part=" in path and path.rsplit("/", 1)[-1].startswith("part-")
    }
    for part in sorted(counts):
        name = f"part-{part:05d}.jsonl"
        target.move(written[part], target.child(name))
        outputs.append(FileRecord(path=name, sha256="", bytes=0, records=counts[part]))
    target.delete(staging)
    locations = [(target.child(o.path), target.size(target.child(o.path))) for o in outputs]
    digests = target.sha256(locations)
    for output, (uri, size) in zip(outputs, locations, strict=True):
        output.bytes = size
        output.sha256 = digests[_path_key(uri)]
    return outputs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Curate raw text with Apache Spark.")
    parser.add_argument("--input-uri", required=True, help="raw prefix (s3://bucket/prefix/)")
    parser.add_argument("--output-uri", required=True, help="curated output prefix")
    parser.add_argument("--config", default="{}", help="the settings as one JSON object")
    parser.add_argument("--set", action="append", default=[], metavar="PATH=JSON")
    parser.add_argument("--region", default=None, help="Comprehend Region")
    parser.add_argument("--pii-partitions", type=int, default=DEFAULT_PII_PARTITIONS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = CurationConfig.from_settings(json.loads(args.config or "{}"), args.set)
    except (ValueError, TypeError) as error:
        print(f"[curation] invalid --config: {error}", file=sys.stderr)
        return 2
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("curation").getOrCreate()
    card = curate_spark(
        spark,
        input_uri=args.input_uri,
        output_uri=args.output_uri,
        config=config,
        client_factory=partial(comprehend_client, args.region),
        source_uris=[args.input_uri],
        pii_partitions=args.pii_partitions,
    )
    counts = card["counts"]
    print(
        f"[curation] input_records={counts['input_records']} "
        f"output_records={counts['output_records']} removed={json.dumps(counts['removed'])}"
    )
    spark.stop()
    return 0
