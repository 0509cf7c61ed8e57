#!/usr/bin/env python
"""Train the PPO slate agent: ``python scripts/train_agent.py --scenario synthetic-shop``.

The same command as ``divrec-rl train``; ``--help`` lists every setting.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.train import main

if __name__ == "__main__":
    sys.exit(main(prog="train_agent.py"))
