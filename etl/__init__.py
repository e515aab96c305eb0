"""cdc-etl: real-time CDC from PostgreSQL to a warehouse, on genuine components."""

__version__ = "0.1.0"
