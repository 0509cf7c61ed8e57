#!/usr/bin/env python
"""Fine-tune the BERT two-tower user model and write a checkpoint.

    python scripts/finetune_user_model.py --dataset movielens-100k --out out/ml100k-model

Same options as ``divrec-rl finetune`` (``--help``); the work is in :mod:`divrec_rl.bert.train`.
"""

from __future__ import annotations

import sys

from divrec_rl.bert.commands import add_finetune_arguments, cmd_finetune, script_main

if __name__ == "__main__":
    sys.exit(script_main(add_finetune_arguments, cmd_finetune, __doc__.splitlines()[0]))
