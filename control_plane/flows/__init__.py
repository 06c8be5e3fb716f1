"""Flows: a tenant's organisms with their canvas, immutable versions and run state."""
