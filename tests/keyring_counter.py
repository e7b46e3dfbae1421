"""A real keyring backend (keyrings.alt's plaintext file) that also notes each read in
`$JOBTERM_TEST_KEYRING_LOG`, so a test can count how often jobterm reads the keyring.
Select it with PYTHON_KEYRING_BACKEND=keyring_counter.CountingKeyring (tests/ on PYTHONPATH)."""

from __future__ import annotations

import os

from keyrings.alt.file import PlaintextKeyring


class CountingKeyring(PlaintextKeyring):  # type: ignore[misc]
    def get_password(self, service: str, username: str) -> str | None:
        with open(os.environ["JOBTERM_TEST_KEYRING_LOG"], "a", encoding="utf-8") as log:
            log.write(f"{service} {username}\n")
        value: str | None = super().get_password(service, username)
        return value
