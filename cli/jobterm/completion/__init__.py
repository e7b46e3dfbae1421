"""Shell completion for bash, zsh and fish.

    protocol.py  what the shell sends and what jobterm answers; where a word stands on the line
    words.py     the command line read back into words (bash/zsh quoting, fish's encoding)
    quoting.py   each candidate quoted for the shell that asked; help text made visible
    respond.py   one request, start to end (called by `jobterm.__main__`)
    answers.py   job ids, projects and hosts from the cache and config, without typer
    resolve.py   the slow path: the click command resolves the line
    spec.py      a cached description of the CLI, so verbs and options need no typer either
    cache.py     the cache of jobs and projects; starting a refresher, waiting for it
    refresh.py   the detached refresher: fetches one entry from GitLab (the only network)
    where.py     the config and cache directories, signed-in hosts, git remotes
    gen.py       the scripts in `completions/` (`make completions`, `make check-completions`)
    install.py   `--install-completion` and `--show-completion`

Imports go one way: respond -> answers/resolve -> protocol (-> words, quoting), spec, cache,
where; refresh -> cache and jobterm.jobs/gitlab (it alone, in its own process). Nothing here
imports `jobterm.app` or `jobterm.commands`: the application hands its click command to
`respond.main`, and imports `install.py` and `answers.py` itself. This file imports nothing,
so each module loads only what it needs on every Tab.
"""
