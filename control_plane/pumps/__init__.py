"""Pumps: running one isolated `python -m pump` per flow (see README.md in this folder)."""
