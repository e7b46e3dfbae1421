"""Where the Chromium family keeps the password of its cookie key, per OS.

* Linux: the Secret Service (GNOME Keyring, KeePassXC…), an item with attribute
  `application` = chrome / chromium / brave / microsoft-edge, read over D-Bus with
  SecretStorage (keyring's own Linux backend library). With no D-Bus session, no service or a
  locked collection the answer is None: the caller then tries the passwords Chromium falls
  back to, and says "cannot decrypt" if none opens the values. KWallet is not read.
* macOS: the login Keychain's generic password "<Browser> Safe Storage", through the system's
  `security` tool (the Keychain may ask the user to allow it).
* Windows: `Local State` → `os_crypt.encrypted_key`, base64 of "DPAPI" + a blob that
  CryptUnprotectData opens for the signed-in user; the result is the AES-256-GCM key itself.

Nothing here is logged: these are secrets.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobterm.browsers.chromium import Kind


def safe_storage_password(kind: Kind) -> bytes | None:
    if sys.platform == "darwin":
        return _keychain(kind.safe_storage)
    if sys.platform == "win32":
        return None
    return _secret_service(kind.application)


def _secret_service(application: str) -> bytes | None:
    try:
        import secretstorage
    except ImportError:
        return None
    try:
        connection = secretstorage.dbus_init()
    except Exception:  # no D-Bus session bus, no Secret Service: nothing to read
        return None
    try:
        for item in secretstorage.search_items(connection, {"application": application}):
            if item.is_locked():
                continue  # unlocking would pop up a prompt; the caller says what to do
            secret = item.get_secret()
            if secret:
                return bytes(secret)
        return None
    except Exception:  # a service that answers badly counts as no password
        return None
    finally:
        connection.close()


def _keychain(service: str) -> bytes | None:
    try:
        result = subprocess.run(
            ["security", "find-generic-password", "-w", "-s", service],
            capture_output=True,
            timeout=60,  # the Keychain may wait for the user to press Allow
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    password = result.stdout.strip()
    return password if result.returncode == 0 and password else None


def windows_key(data_dir: Path) -> bytes | None:
    try:
        state = json.loads((data_dir / "Local State").read_text(encoding="utf-8"))
        sealed = base64.b64decode(state["os_crypt"]["encrypted_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not sealed.startswith(b"DPAPI"):
        return None
    return _dpapi_unprotect(sealed[5:])


def _dpapi_unprotect(blob: bytes) -> bytes | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    class Blob(ctypes.Structure):
        _fields_ = [("size", wintypes.DWORD), ("data", ctypes.POINTER(ctypes.c_char))]

    buffer = ctypes.create_string_buffer(blob, len(blob))
    source = Blob(len(blob), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)))
    target = Blob()
    crypt32 = ctypes.windll.crypt32  # type: ignore[attr-defined,unused-ignore]
    if not crypt32.CryptUnprotectData(
        ctypes.byref(source), None, None, None, None, 0, ctypes.byref(target)
    ):
        return None
    try:
        return ctypes.string_at(target.data, target.size)
    finally:
        ctypes.windll.kernel32.LocalFree(target.data)  # type: ignore[attr-defined,unused-ignore]
