"""Convert a raw dump into the Parquet tables its data config reads.

    python scripts/convert_tables.py stackexchange \
        $GRAPHREC_DATA_DIR/stackexchange-quantumcomputing-2018 out/se
    python scripts/convert_tables.py ciao $GRAPHREC_DATA_DIR/ciao-etrust out/ciao
    python scripts/convert_tables.py ego_facebook_circles $GRAPHREC_DATA_DIR/ego-facebook out/ego

Then train on them with data.source.root=<out folder> (e.g. data=ciao data.source.root=out/ciao).
The data configs also convert on their own, once, into ~/.cache/graphrec/tables.
"""

import argparse
import sys
from pathlib import Path

from graphrec.sources.convert.ciao import CiaoTables
from graphrec.sources.convert.ego_circles import EgoCircleTables
from graphrec.sources.convert.stackexchange import StackExchangeTables
from graphrec.utils.errors import DataMissingError

CONVERTERS = {"stackexchange": StackExchangeTables, "ciao": CiaoTables,
              "ego_facebook_circles": EgoCircleTables}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(CONVERTERS))
    parser.add_argument("raw_dir", help="folder of the raw dump (read only)")
    parser.add_argument("out_dir", help="folder the Parquet tables are written to")
    args = parser.parse_args()
    raw, out = Path(args.raw_dir).resolve(), Path(args.out_dir).resolve()
    if out == raw or raw in out.parents:
        sys.exit("convert_tables: error: out_dir is inside the raw folder; write elsewhere")
    try:
        CONVERTERS[args.dataset](str(raw)).write(out)
    except DataMissingError as e:
        print(f"convert_tables: error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {', '.join(sorted(p.name for p in out.glob('*.parquet')))} to {out}")
