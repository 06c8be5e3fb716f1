"""The per-flow runtime: `python -m pump` serves one flow; `python -m pump run` runs one locally."""

__version__ = "0.1.0"
