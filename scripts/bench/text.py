"""Text featurizer throughput: texts/s of each featurizer, cold (encoding) and warm (cache read).

    python scripts/bench/text.py --corpus sst2 umsab_english          # needs GRAPHREC_DATA_DIR
    python scripts/bench/text.py --corpus sst2 --cache-dir "$(mktemp -d)"  # fresh cache: cold

A cold figure is printed only when the texts were not cached yet (the first run, or a new
``--cache-dir``); warm figures are the median of ``--repeats`` cache reads. hashed_bow has no
cache (hashing is cheap): its figure is the median of ``--repeats`` encodings. ``--limit N``
times the first N texts of each corpus only (a quick check); ``--json`` adds one JSON line of
every row at the end (``scripts/bench/all.py`` reads it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from graphrec.sources.corpora import SentimentCorpusSource
from graphrec.text import build_featurizer


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", nargs="+", default=["sst2", "umsab_english"])
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="only the first N texts per corpus")
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    args = ap.parse_args()
    print(f"{'corpus':<22}{'texts':>8}  {'featurizer':<22}{'what':<12}{'seconds':>9}"
          f"{'texts/s':>12}")

    out = {"bench": "text", "model": args.model, "repeats": args.repeats, "corpora": {}}

    def row(corpus, n, feat, what, sec):
        print(f"{corpus:<22}{n:>8}  {feat:<22}{what:<12}{sec:>9.3f}{n / sec:>12.0f}", flush=True)
        # Keyed "<featurizer> <what>"; the first sentence_transformer row is the cold encode
        # only when the cache was empty, else a second cache read (same key, last one kept).
        figures = out["corpora"].setdefault(corpus, {"texts": n})
        figures[f"{feat} {what}"] = {"seconds": round(sec, 4), "texts_per_s": round(n / sec, 1)}

    for name in args.corpus:
        texts = SentimentCorpusSource(name)()["post"].text[: args.limit]
        hashed = build_featurizer({"kind": "hashed_bow"})
        row(name, len(texts), "hashed_bow", "encode",
            _median_time(lambda f=hashed, t=texts: f(t), args.repeats))
        st = build_featurizer({"kind": "sentence_transformer", "model": args.model,
                               "batch_size": args.batch_size, "cache_dir": args.cache_dir})
        t = time.perf_counter()
        st(texts)
        sec = time.perf_counter() - t
        row(name, len(texts), "sentence_transformer",
            "cache read" if st.cache.last_hit else "encode", sec)
        row(name, len(texts), "sentence_transformer", "cache read",
            _median_time(lambda f=st, t=texts: f(t), args.repeats))
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
