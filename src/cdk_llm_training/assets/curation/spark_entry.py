"""EMR Serverless entry point of the Spark curation job.

Uploaded on its own (a job's entry point is one file); the ``curation`` package it runs
arrives in ``--py-files`` as ``curation.zip``, so it is imported by name here.
"""

import importlib
import sys

if __name__ == "__main__":
    sys.exit(importlib.import_module("curation.spark_curate").main())
