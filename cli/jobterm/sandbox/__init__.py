"""The sandbox instance: a GitLab-compatible server on 127.0.0.1 for demos and tests.

`state.py`/`model.py`/`config.py`: the data (pure); `app.py`: the aiohttp application;
`rails.py`, `signin.py`, `rest.py`: what GitLab's Rails app answers; `workhorse.py` and
`pty.py`: the job terminal. aiohttp is imported only by the web modules.
"""
