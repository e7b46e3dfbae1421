"""Reading a GitLab web session out of a browser profile (`jobterm login --from-browser`).

* `store.py`: what both families share: copying a live SQLite store before reading it, and
  which cookies belong to an instance (host, domain cookies, path under a relative root).
* `chromium.py`: Chromium, Chrome, Brave, Edge: `Cookies` SQLite, encrypted values (`v10`,
  `v11`; the key from a fixed password, the OS keyring, the macOS Keychain or Windows DPAPI)
  and the SHA-256 host prefix of schema 24.
* `firefox.py`: `cookies.sqlite` (persistent cookies) and the mozLz4 session store (session
  cookies such as `_gitlab_session`).
* `find.py`: `--from-browser[=BROWSER[:PROFILE]]`: which stores to read, in which order, and
  the errors, one per cause, each with its own exit code.

Why a reader of our own rather than browser-cookie3: see `find.py`.
"""
