"""Rebuild a sweep's mean ± std table from its run folders.

    python scripts/aggregate.py logs/train/multiruns/<timestamp> [--metrics test/friend/mrr ...]
"""

import argparse
import sys

from graphrec.utils.aggregate import aggregate

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir")
    parser.add_argument("--metrics", nargs="*", help="columns to show (default: all)")
    args = parser.parse_args()
    try:
        print(aggregate(args.sweep_dir, tuple(args.metrics) if args.metrics else None))
    except FileNotFoundError as e:
        sys.exit(f"aggregate: error: {e}")
