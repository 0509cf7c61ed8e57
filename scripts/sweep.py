#!/usr/bin/env python
"""Train many PPO runs on Ray Tune: ``python scripts/sweep.py SWEEP.yaml [--out DIR]``.

The same command as ``divrec-rl sweep``; ``--help`` lists every option.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.sweep import main

if __name__ == "__main__":
    sys.exit(main(prog="sweep.py"))
