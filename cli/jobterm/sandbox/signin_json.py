"""The JSON side of GitLab 18's email verification page (`VerifiesWithEmail`).

The Vue page (`.js-email-verification`) posts the code to the session endpoint as JSON
(`signin._verification_json` answers it) and asks for a new code here:

    POST /users/resend_verification_code   {"user": {"email": ""}}, X-CSRF-Token
        -> {"status": "success"}: a new code replaces the old one
        -> 204, empty: nobody is half-way through a verification in this session
    GET  /users/successful_verification    -> the "verified" page, linking home
"""

from __future__ import annotations

import secrets

from aiohttp import web

from jobterm.sandbox import pages18
from jobterm.sandbox.rails import (
    api_json,
    html,
    html_error,
    redirect,
    web_auth,
)
from jobterm.sandbox.signin import posted


async def resend(request: web.Request) -> web.Response:
    found = await posted(request)
    if found is None:
        return html_error(422)
    state, _, session = found
    user = state.user(session.pending_user or "")
    if user is None or session.pending_step != "verification":
        return web.Response(status=204)
    user.verification_code = f"{secrets.randbelow(10**6):06d}"  # the old code stops working
    return api_json({"status": "success"})


async def successful_verification(request: web.Request) -> web.Response:
    auth = web_auth(request)
    if auth.user is None or auth.session is None:
        return redirect(request, "/users/sign_in")
    return html(pages18.successful_verification(auth.session.csrf_token, "/"))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/users/resend_verification_code", resend)
    app.router.add_get("/users/successful_verification", successful_verification)
