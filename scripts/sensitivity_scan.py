#!/usr/bin/env python
"""Where does long-term planning matter?  Scale boredom and patience and evaluate::

    python scripts/sensitivity_scan.py --scenario synthetic-shop \
        --agents baseline,greedy,popularity,random --ppo 1=runs/NAME --out DIR

The same command as ``divrec-rl sensitivity``; ``--help`` lists every setting.
"""

from __future__ import annotations

import sys

from divrec_rl.commands.sensitivity import main

if __name__ == "__main__":
    sys.exit(main(prog="sensitivity_scan.py"))
