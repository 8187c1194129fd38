"""Where graphs come from: user tables (CSV/Parquet + a YAML schema) and their converters."""
