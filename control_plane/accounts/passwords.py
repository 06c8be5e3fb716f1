"""Which passwords an account may have: 8 to 1024 characters, not one of the most common.

The common list is zxcvbn's `passwords` frequency list (the 30,000 passwords most often seen in
leaked password dumps, maintained with the zxcvbn package), matched case-insensitively. A
password that is only one of them with digits or punctuation around it ("Password1!") is
refused too: the letters between are compared once the leading and trailing non-letters are
stripped, as long as they are at least 4 characters."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MIN_CORE_LENGTH = 4  # shorter cores ("ab" in "ab123456") are left to the length rule


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # ~800 kB: loaded on first use

    passwords: Any = FREQUENCY_LISTS["passwords"]
    words = passwords.split(",") if isinstance(passwords, str) else passwords
    return frozenset(word.lower() for word in words if word)


def is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common:
        return True
    core = lowered.strip("0123456789!@#$%^&*()-_=+.,?~ ")
    return len(core) >= MIN_CORE_LENGTH and core != lowered and core in common


def password_problems(password: str, *, path: str = "password") -> list[dict[str, Any]]:
    if len(password) < MIN_PASSWORD_LENGTH:
        message = f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    elif len(password) > MAX_PASSWORD_LENGTH:
        message = f"the password must have at most {MAX_PASSWORD_LENGTH} characters"
    elif is_common(password):
        message = (
            "this password is among the most common ones and is guessed first; "
            "choose another (a few unrelated words make a good one)"
        )
    else:
        return []
    return [{"path": path, "message": message}]
