#!/usr/bin/env python
"""Fine-tune the BERT two-tower user model and write a checkpoint.

    python scripts/finetune_user_model.py --dataset movielens-100k --out out/ml100k-model

Same options as ``divrec-rl finetune`` (``--help``); the work is in :mod:`divrec_rl.bert.train`.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.common import script_main
from divrec_rl.commands.user_model import (
    FINETUNE_DESCRIPTION,
    add_finetune_arguments,
    finetune_interrupted,
    run_finetune,
)

if __name__ == "__main__":
    sys.exit(
        script_main(
            add_finetune_arguments,
            run_finetune,
            FINETUNE_DESCRIPTION,
            interrupted=finetune_interrupted,
        )
    )
