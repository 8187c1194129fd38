"""Test a trained checkpoint: `python scripts/evaluate.py ckpt_path=<run>/checkpoints/best.ckpt`."""

from graphrec.cli import evaluate_main

if __name__ == "__main__":
    evaluate_main()
