#!/usr/bin/env python
"""Compare agents on held-out users and write a report::

    python scripts/evaluate.py --scenario synthetic-shop \
        --agents ppo=runs/NAME,baseline,greedy,popularity,random --out DIR

The same command as ``divrec-rl evaluate``; ``--help`` lists every setting.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main(prog="evaluate.py"))
