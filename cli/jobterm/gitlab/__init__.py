"""Talking to GitLab over HTTP: transport (http.py), what its failures mean (failures.py),
sign-in (signin.py), secrets (credentials.py), non-secret config (config.py), sessions
(session.py) and the REST API (api.py). Commands get a ready client from `session.open_gitlab`."""
