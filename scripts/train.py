"""Train a graphrec model: `python scripts/train.py [overrides]` (see configs/train.yaml).

Continue a killed run: `python scripts/train.py resume=<run folder>` (see docs/runs.md).
"""

from graphrec.cli import train_main

if __name__ == "__main__":
    train_main()
