"""Execution history: the recorder, the executions API, retries and retention."""
