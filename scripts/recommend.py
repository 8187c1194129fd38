"""Top-K recommendations from a checkpoint:
`python scripts/recommend.py ckpt_path=<run>/checkpoints/best.ckpt task=friend k=20 users=all
out=recs.parquet`."""

from graphrec.cli import recommend_main

if __name__ == "__main__":
    recommend_main()
