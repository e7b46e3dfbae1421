"""The sandbox instance: a GitLab-compatible server on 127.0.0.1 for demos and tests.

`state.py`/`model.py`/`config.py`: the data (pure); `app.py`: the aiohttp application;
`rails.py`, `signin.py`, `rest.py`: what GitLab's Rails app answers; `workhorse.py`
(handshake), `terminal.py` (one connection) and `pty.py` (shells): the job terminal;
`lifecycle.py`: jobs' timed life. aiohttp is imported only by the web modules.
"""
