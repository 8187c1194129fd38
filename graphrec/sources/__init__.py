"""Where graphs come from.

Every source is a callable with a ``name`` that returns a ``HeteroData`` in the schema of
:mod:`graphrec.data.schema`: the synthetic social graph, the public benchmarks (Planetoid,
ego-Facebook), OGB link datasets, sentiment corpora, and users' own tables (CSV/Parquet + a
YAML schema) with their converters. What happens to a graph after it is built (splits,
leakage, loading) lives in :mod:`graphrec.data`.
"""
