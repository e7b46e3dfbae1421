"""Review findings on the terminal path (attach, exec), each driven as a user would."""

from __future__ import annotations

import os
import signal

from util import scaled


def test_exec_tty_sigterm_while_connecting_restores_the_terminal(spawn_jobterm, signed_in_env):
    # An attach holds job 101's only terminal, so `exec -t` keeps retrying the handshake
    # (busy) with the local terminal already raw; SIGTERM then must still restore it.
    holder = spawn_jobterm(["attach", "101", "--project", "demo/webapp"], signed_in_env)
    holder.child.expect("attached to job 101", timeout=scaled(20))
    holder.child.send("echo held-$((1+1))\r")
    holder.child.expect("held-2", timeout=scaled(20))
    run = spawn_jobterm(
        ["--debug", "exec", "101", "-p", "demo/webapp", "-t", "-c", "true"], signed_in_env
    )
    run.child.expect("terminal busy; retrying", timeout=scaled(20))
    os.kill(run.jobterm_pid(), signal.SIGTERM)
    run.wait_done()
    assert run.terminal_restored()
    holder.child.send("\r~.")
    assert holder.wait_done() == 0
