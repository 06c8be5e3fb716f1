"""Pooled random ids: hex of the asked length, never repeated, a fresh pool after fork."""

from __future__ import annotations

import os

from control_plane import random_ids
from control_plane.random_ids import POOL_BYTES, random_hex


def test_ids_have_their_length_and_do_not_repeat_across_pool_refills() -> None:
    ids = [random_hex(10) for _ in range(3 * POOL_BYTES // 10)]
    assert all(len(ident) == 20 and int(ident, 16) >= 0 for ident in ids)
    assert len(set(ids)) == len(ids)
    assert len(random_hex(POOL_BYTES + 1)) == 2 * (POOL_BYTES + 1)


def test_a_forked_child_draws_other_bytes_than_its_parent() -> None:
    random_hex(1)  # the pool holds bytes the child must not reuse
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(writer, random_hex(16).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 64).decode()
    os.close(reader)
    assert len(from_child) == 32
    assert from_child != random_hex(16)
    assert random_ids._offset > 0
