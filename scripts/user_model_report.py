#!/usr/bin/env python
"""Write the fidelity report of a fine-tuned user model.

    python scripts/user_model_report.py --model out/ml100k-model --out out/ml100k-report

Same options as ``divrec-rl user-model-report`` (``--help``); the work is in
:mod:`divrec_rl.bert.report`.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.common import script_main
from divrec_rl.commands.user_model import REPORT_DESCRIPTION, add_report_arguments, run_report

if __name__ == "__main__":
    sys.exit(script_main(add_report_arguments, run_report, REPORT_DESCRIPTION))
