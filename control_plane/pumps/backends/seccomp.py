"""The seccomp filter every process-backend pump runs under (bubblewrap's `--seccomp FD`, or
`prctl(PR_SET_SECCOMP)` for a bare subprocess).

A classic-BPF program written here, without a library: allow everything except the system calls
a flow never needs and a sandbox escape or a kernel attack always does. Refused with EPERM:

- namespaces: `unshare`, `setns`, and `clone` with any CLONE_NEW* flag (`clone3`, whose flags
  BPF cannot read, answers ENOSYS so the C library falls back to `clone`);
- mounts: `mount`, `umount2`, `pivot_root`, `chroot` and the new mount API;
- tracing other processes: `ptrace`, `process_vm_readv/writev`, `kcmp`, `pidfd_getfd`;
- the kernel keyring: `add_key`, `request_key`, `keyctl`;
- kernel modules and kexec: `init_module`, `finit_module`, `delete_module`, `kexec_*`;
- and more kernel attack surface: `bpf`, `perf_event_open`, `userfaultfd`, `io_uring_*`,
  `open_by_handle_at`, clock and swap changes, `reboot`, `syslog`, `acct`, `quotactl`, ...

System call numbers are those of x86_64 and aarch64 (checked against libseccomp in the tests);
on another architecture `program()` raises and the backend says so. A system call of another
ABI than the native one (x32 on x86_64, a 32-bit process) is refused entirely."""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000
CLONE_NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
)

# name: (x86_64, aarch64); None where the architecture has no such call.
DENIED: dict[str, tuple[int | None, int | None]] = {
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fspick": (433, 433),
    "mount_setattr": (442, 442),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "kcmp": (312, 272),
    "pidfd_getfd": (438, 438),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "delete_module": (176, 106),
    "kexec_load": (246, 104),
    "kexec_file_load": (320, 294),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "open_by_handle_at": (304, 265),
    "name_to_handle_at": (303, 264),
    "reboot": (169, 142),
    "swapon": (167, 224),
    "swapoff": (168, 225),
    "acct": (163, 89),
    "syslog": (103, 116),
    "settimeofday": (164, 170),
    "clock_settime": (227, 112),
    "clock_adjtime": (305, 266),
    "adjtimex": (159, 171),
    "quotactl": (179, 60),
    "lookup_dcookie": (212, 18),
    "vhangup": (153, 58),
    "iopl": (172, None),
    "ioperm": (173, None),
    "uselib": (134, None),
    "ustat": (136, None),
    "sysfs": (139, None),
    "_sysctl": (156, None),
    "create_module": (174, None),
    "get_kernel_syms": (177, None),
    "query_module": (178, None),
    "nfsservctl": (180, 42),
}
CLONE = (56, 220)
CLONE3 = (435, 435)

_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_OFFSET_NR, _OFFSET_ARCH, _OFFSET_ARG0_LOW = 0, 4, 16  # struct seccomp_data, little-endian
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class UnsupportedArchitecture(RuntimeError):
    pass


def architecture() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def program(machine: str | None = None) -> bytes:
    """The filter as `struct sock_filter[]` bytes (what `bwrap --seccomp` reads)."""
    machine = machine or architecture()
    if machine not in AUDIT_ARCH:
        raise UnsupportedArchitecture(
            f"no seccomp filter for the {machine} architecture (x86_64 and aarch64 only)"
        )
    column = 0 if machine == "x86_64" else 1
    denied = sorted(
        {number for numbers in DENIED.values() if (number := numbers[column]) is not None}
    )
    # Instructions as (code, jump-if-true label, jump-if-false label, k); labels resolve below.
    code: list[tuple[int, str | int, str | int, int]] = [
        (_LD_ABS_W, 0, 0, _OFFSET_ARCH),
        (_JEQ, 0, "deny", AUDIT_ARCH[machine]),
        (_LD_ABS_W, 0, 0, _OFFSET_NR),
    ]
    if machine == "x86_64":
        code.append((_JGE, "deny", 0, X32_SYSCALL_BIT))
    code += [(_JEQ, "deny", 0, number) for number in denied]
    code += [
        (_JEQ, "clone", 0, CLONE[column]),
        (_JEQ, "enosys", 0, CLONE3[column]),
        (_RET, 0, 0, _RET_ALLOW),
    ]
    labels = {"clone": len(code)}
    code += [(_LD_ABS_W, 0, 0, _OFFSET_ARG0_LOW), (_JSET, "deny", 0, CLONE_NAMESPACE_FLAGS)]
    code.append((_RET, 0, 0, _RET_ALLOW))
    labels["deny"] = len(code)
    code.append((_RET, 0, 0, _RET_ERRNO | errno.EPERM))
    labels["enosys"] = len(code)
    code.append((_RET, 0, 0, _RET_ERRNO | errno.ENOSYS))
    packed = b""
    for index, (opcode, if_true, if_false, k) in enumerate(code):
        jt = labels[if_true] - index - 1 if isinstance(if_true, str) else if_true
        jf = labels[if_false] - index - 1 if isinstance(if_false, str) else if_false
        packed += struct.pack("=HBBI", opcode, jt, jf, k)
    return packed


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def installer() -> tuple[object, ...]:
    """Everything `install(...)` needs, prepared before a fork (the child only calls prctl)."""
    filter_bytes = program()
    buffer = ctypes.create_string_buffer(filter_bytes, len(filter_bytes))
    fprog = _SockFprog(len(filter_bytes) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return (prctl, fprog, buffer)


def install(prepared: tuple[object, ...]) -> None:
    """Load the filter into the calling process (no new privileges first, as the kernel asks
    of a process without CAP_SYS_ADMIN). Raises OSError when the kernel refuses."""
    prctl, fprog, _ = prepared
    assert callable(prctl)
    if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:  # type: ignore[arg-type]
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
