"""Train an open-weight causal language model on a SageMaker training job (the entry point).

The training container runs this file with the job's hyperparameters as ``--name value``
arguments. Methods (``--method``): ``sft``, ``dpo``, ``kto``, ``grpo``, ``distill``, ``cpt``
(see ``methods.py``); tunings (``--tuning``): ``lora`` (default), ``qlora`` (CUDA only),
``full``. The older ``--method lora|qlora|full`` still means SFT with that tuning. Training
runs on TRL's trainers with PEFT adapters; several GPUs or instances train with DDP (FSDP for
``--tuning full --fsdp true``), started through torchrun.

SageMaker's layout (every path can be moved with the environment variable in brackets):

- training data: ``/opt/ml/input/data/train`` [``SM_CHANNEL_TRAIN``], JSONL files;
- validation data (optional): ``/opt/ml/input/data/validation`` [``SM_CHANNEL_VALIDATION``];
- base model (optional): ``/opt/ml/input/data/model`` [``SM_CHANNEL_MODEL``], a Hugging Face
  model folder; or ``--model_id`` when the network allows a hub download;
- GRPO reward file (optional): ``/opt/ml/input/data/reward`` [``SM_CHANNEL_REWARD``]; a
  relative ``--reward_file`` is read from there;
- checkpoints: ``/opt/ml/checkpoints`` [``SM_CHECKPOINT_DIR``], synced to S3 by SageMaker and
  restored after a spot interruption: the run resumes from the latest complete one;
- the model (adapter or full weights), tokenizer and model card: ``/opt/ml/model``
  [``SM_MODEL_DIR``];
- labelled evaluation set (optional): ``/opt/ml/input/data/evaluation``
  [``SM_CHANNEL_EVALUATION``], JSONL lines with ``prompt`` (and ``id``; default: the line
  number). After training the model answers every prompt (greedy decoding) and the answers go
  to ``/opt/ml/output/data/predictions.jsonl`` [``SM_OUTPUT_DATA_DIR``] as
  ``{"id", "prediction"}`` lines for the task-metrics job.

Metrics are printed one line per log event, in the form the job's metric definitions capture:
``[metrics] step=12 train_loss=1.2345 learning_rate=2.000e-04 tokens_per_second=812.3``;
preference methods add ``reward_margin`` and ``reward_accuracy``, GRPO ``reward``,
``reward_std`` and ``kl``.

The modules next to this file form one package; SageMaker runs this file as a script from the
unpacked source folder, so it loads that folder as the package :data:`PACKAGE` first.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = "cdk_llm_training_script"
"""The name the script's folder is imported under when this file runs as a program."""


def _load_package() -> None:
    if PACKAGE in sys.modules:
        return
    here = Path(__file__).resolve().parent
    spec = importlib.util.spec_from_file_location(
        PACKAGE, here / "__init__.py", submodule_search_locations=[str(here)]
    )
    if spec is None or spec.loader is None:  # pragma: no cover - the file sits next to this one
        raise ImportError(f"cannot load the training modules from {here}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)


if __name__ == "__main__":
    _load_package()
    run = importlib.import_module(f"{PACKAGE}.run")
    sys.exit(run.main(script=str(Path(__file__).resolve())))
