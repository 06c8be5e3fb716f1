"""Reading /proc: is a pid still the process we started, and which processes form a group."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state is [0], pgrp [2])."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text[text.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def alive(pid: int, ticks: int | None) -> bool:
    """`pid` is still the process we started (not a reused pid) and not a zombie."""
    fields = proc_stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return ticks is None or int(fields[19]) == ticks


def group_members(group: int) -> list[tuple[int, str]]:
    """Live (pid, command name) of the processes in process group `group` and of every
    descendant of its leader (a sandboxed pump runs in a session of its own: `--new-session`)."""
    processes: dict[int, tuple[int, int, str]] = {}  # pid -> (parent, group, name)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields[0] in ("Z", "X"):
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        processes[int(entry.name)] = (int(fields[1]), int(fields[2]), name)
    members = {pid for pid, (_, pgrp, _) in processes.items() if pgrp == group}
    if group in processes:
        members.add(group)
    grown = True
    while grown:
        children = {pid for pid, (parent, _, _) in processes.items() if parent in members}
        grown = not children <= members
        members |= children
    return sorted((pid, processes[pid][2]) for pid in members)


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"exit code {code} (killed by {signal.Signals(code - 128).name})"
    return f"exit code {code}"
