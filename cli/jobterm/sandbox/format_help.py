"""The sandbox config format, as `jobterm sandbox --help` shows it (no heavy imports)."""

from __future__ import annotations

FORMAT_HELP = """\
Config file (TOML); every part optional, entries merge into the defaults by key:

\b
  defaults = true             # false: start with no users, runners, projects or jobs
  [settings]
  session_expire_delay = 604800   # seconds a web session lives after its last use
  remember_me_enabled = true      # remember_user_token renews expired sessions
  password_authentication_enabled = true   # false: POST /users/sign_in answers 403
  pipelines_api = true            # false: /api/v4/pipelines answers 404 (older GitLab)
  session_timeout = 1800          # runner: how long a job waits for an attached terminal
  retry_pending_seconds = 1       # how long a retried job waits for a runner
  prepare_seconds = 1             # how long a runner prepares before a real script runs
  terminal_ready_after = 0        # a job's terminal answers 404 this long after it starts
  ping_interval = 30              # seconds between WebSocket Pings on a terminal
  lockout_threshold = 10          # failed sign-ins before the account locks
  unlock_after = 600              # seconds until such a lockout ends by itself
  signin_style = "classic"        # "gitlab18": sign-in pages as GitLab 18 renders them
  broadcast_message = ""          # an admin broadcast banner on the sign-in pages
  signup_enabled = false          # classic style: a registration form beside sign-in
  [[settings.faults]]             # faults: server_error, rate_limit, html, bot_challenge,
  kind = "rate_limit"             #   sign_in_redirect, reset; optional path (prefix), method,
  times = 2                       #   times, status and message (server_error), retry_after
  [[users]]                       # key: username
  username = "carol"
  password = "carol-pass"         # also: name, email, token (glpat-...), totp_secret,
  ldap = false                    #   recovery_codes, email_verification,
                                  #   verification_code, admin, locked, state
  [[runners]]                     # key: id; description, runner_type, is_shared,
  id = 4                          #   session_server (false: jobs have no terminal),
  executor = "docker"             #   "shell" (default: the terminal gets the runner's
                                  #   directory and environment, and holds the job),
                                  #   "docker" (the container's variables; the terminal ends
                                  #   with the script) or "kubernetes" (the pod's public
                                  #   variables; holds the job)
  [[projects]]                    # key: id or path; archived, members = [usernames],
  path = "carol/app"              #   variables = {...} (its CI/CD variables)
  members = ["carol"]
  [[jobs]]                        # key: id; project (path or id), name, stage, ref,
  project = "carol/app"           #   status, user, runner, pipeline, build_dir,
  name = "build"                  #   variables = {...}, script_result ("success"/"failed"),
  shell = ["dash"]                #   script_seconds / pending_seconds (number, or
  script_seconds = "forever"      #   "forever": never ends / stays pending)
  script = ["make", "make test"]  # run for real when the job runs (set -e), in its build
                                  #   directory with all its variables; replaces script_seconds
"""
