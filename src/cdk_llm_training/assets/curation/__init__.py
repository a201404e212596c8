"""Raw -> curated text curation, run inside a SageMaker Processing job.

The job runs ``python3 -m curation.curate`` (this folder, shipped as a code asset); every
stage streams one record at a time, so memory grows with the number of distinct documents
(a 16-byte digest each, plus a MinHash LSH entry when near-duplicate removal is on), never
with their size. Stages, in order: parse -> normalise -> quality filters -> exact dedup ->
near-duplicate dedup -> PII (Amazon Comprehend) -> write, then the dataset card.
"""
