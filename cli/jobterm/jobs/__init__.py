"""Which job the user means, and what state it is in. Commands call this package; nothing
else re-implements it.

* `jobterm.core.jobs` (pure, no I/O): parse a JOB argument (`123`, `group/project#123`, a job
  URL) and a git remote's URL. It lives in core/ so core's purity test guards it.
* `locate`: a JOB argument to host + project + job id, and the terminal's URL when that is
  derivable, from config and the git remote only (no request to the server).
* `status`: the statuses, the REST pre-checks that say why a terminal cannot open, waiting
  for a status, and what a job's state is now (for messages).
* `terminal`: `resolve_terminal`, a JOB argument to a checked `ResolvedJob` with its
  WebSocket target.
* `actions`: one job over REST: get it, read its log, retry it (`NotRetryableError`).
* `listing`: the user's jobs in a project or everywhere (`jobterm jobs`), `list_jobs` with a
  status filter (pickers).
* `picker`: the interactive choice among the user's running jobs.

The REST calls themselves are `jobterm.gitlab.api.GitLab`'s; this package knows what they mean.
Importing `jobterm.jobs` loads nothing: import the module you need.
"""
