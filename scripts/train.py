"""Train a graphrec model: `python scripts/train.py [overrides]` (see configs/train.yaml)."""

from graphrec.train import main

if __name__ == "__main__":
    main()
