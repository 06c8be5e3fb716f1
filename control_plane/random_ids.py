"""Random hex for the ids minted on the webhook path (request ids, execution ids).

`os.urandom` lets go of the GIL around its getrandom() call, and under load the event loop
then waits for the admission or recorder thread to hand it back (up to the 5 ms switch
interval), twice per webhook. These bytes come from `os.urandom` all the same, drawn
`POOL_BYTES` at a time; a forked child starts with a pool of its own."""

from __future__ import annotations

import os
import threading

POOL_BYTES = 4096

_lock = threading.Lock()
_pool = b""
_offset = 0


def random_hex(nbytes: int) -> str:
    """`os.urandom(nbytes).hex()`, without a system call for most calls."""
    global _pool, _offset
    with _lock:
        if _offset + nbytes > len(_pool):
            _pool, _offset = os.urandom(max(POOL_BYTES, nbytes)), 0
        chunk = _pool[_offset : _offset + nbytes]
        _offset += nbytes
    return chunk.hex()


def _forget_pool() -> None:
    global _pool, _offset, _lock
    _pool, _offset, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)
