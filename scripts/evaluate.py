"""Test a trained checkpoint: `python scripts/evaluate.py ckpt_path=<run>/checkpoints/best.ckpt`."""

from graphrec.evaluate import main

if __name__ == "__main__":
    main()
