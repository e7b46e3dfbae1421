"""The completion protocol, answered from a seeded config and cache (no server needed), the
generated scripts, `--install-completion`/`--show-completion`, and what completion imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from completion_helpers import (
    HEAVY,
    REPO,
    candidates,
    complete,
    imported_modules,
    isolated_env,
    seed_cache,
    seed_config,
    values,
)
from jobterm.completion import gen as completion_gen
from jobterm.completion.protocol import COMMANDS, classify, split_words
from util import scaled

URL = "http://127.0.0.1:9"  # nothing listens: any network use would fail, not hang
SHELLS = ("bash", "zsh", "fish")
JOBS = [[101, "build", "build", "main"], [102, "test:dash", "test", "main"]]


@pytest.fixture
def user(tmp_path: Path) -> dict[str, str]:
    """Signed in to URL (per the config), with a fresh cache of jobs and projects."""
    env = isolated_env(tmp_path)
    host = seed_config(env, URL)
    seed_cache(
        env,
        host,
        jobs={"demo/webapp": JOBS, "demo/tools/cli": [[201, "cli:build", "build", "dev"]]},
        projects=[["demo/webapp", "Demo / webapp"], ["demo/tools/cli", "Demo / tools / cli"]],
    )
    return env


@pytest.mark.parametrize("shell", SHELLS)
def test_job_ids_with_name_and_stage(user: dict[str, str], shell: str) -> None:
    result = complete(user, shell, "jobterm attach -p demo/webapp ")
    assert result.returncode == 0
    assert result.stderr == ""
    assert candidates(result) == [
        ("plain", "101", "build [build] main"),
        ("plain", "102", "test:dash [test] main"),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("jobterm attach --project demo/tools/cli ", ["201"]),
        ("jobterm attach --project=demo/tools/cli 2", ["201"]),
        ("jobterm attach -p demo/webapp 102", ["102"]),
        ("jobterm attach -p demo/webapp 3", []),
        ("jobterm attach --wait --escape-char ^] -p demo/webapp ", ["101", "102"]),
        ("jobterm --debug exec -p demo/webapp ", ["101", "102"]),
        ("jobterm attach -p demo/webapp 101 ", []),  # JOB is given already
        ("jobterm attach -p demo/nope ", []),  # nothing cached; the refresh fails quietly
    ],
)
def test_job_completion_reads_the_line(
    user: dict[str, str], line: str, expected: list[str]
) -> None:
    assert values(complete(user, "bash", line)) == expected


def test_project_and_host_values(user: dict[str, str]) -> None:
    assert values(complete(user, "zsh", "jobterm jobs --project ")) == [
        "demo/webapp",
        "demo/tools/cli",
    ]
    assert candidates(complete(user, "fish", "jobterm attach -p demo/t")) == [
        ("plain", "demo/tools/cli", "Demo / tools / cli")
    ]
    # zsh and fish complete `--project=de` as one word: the answers keep the option.
    assert values(complete(user, "fish", "jobterm jobs --project=demo/w")) == [
        "--project=demo/webapp"
    ]
    # bash splits it at "=": the word under the cursor is "=" or what follows it.
    assert values(complete(user, "bash", "jobterm jobs --project = ")) == [
        "demo/webapp",
        "demo/tools/cli",
    ]
    assert candidates(complete(user, "bash", "jobterm attach --host ")) == [
        ("plain", "127.0.0.1:9", "demo (default)")
    ]


def test_git_remote_gives_the_project(user: dict[str, str], tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "remote",
            "add",
            "origin",
            "http://127.0.0.1:9/demo/tools/cli.git",
        ],
        check=True,
    )
    assert values(complete(user, "bash", "jobterm attach ", cwd=repo)) == ["201"]
    projects = candidates(complete(user, "bash", "jobterm jobs -p ", cwd=repo))
    assert projects[0] == ("plain", "demo/tools/cli", "git remote")
    assert [v for _, v, _ in projects].count("demo/tools/cli") == 1
    # outside any checkout there is no project, so no job to offer
    assert values(complete(user, "bash", "jobterm attach ", cwd=tmp_path)) == []


@pytest.mark.parametrize("shell", SHELLS)
def test_signed_out_offers_nothing_and_says_nothing(tmp_path: Path, shell: str) -> None:
    env = isolated_env(tmp_path)
    # a cache left from an earlier sign-in must not be offered once signed out
    seed_cache(env, "127.0.0.1:9", jobs={"demo/webapp": JOBS}, projects=[["demo/webapp", ""]])
    for line in (
        "jobterm attach -p demo/webapp ",
        "jobterm jobs --project ",
        "jobterm attach --host ",
    ):
        result = complete(env, shell, line)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_broken_config_offers_nothing(user: dict[str, str]) -> None:
    (Path(user["JOBTERM_CONFIG_DIR"]) / "config.json").write_text("{not json")
    result = complete(user, "bash", "jobterm attach -p demo/webapp ")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_commands_and_options_come_from_the_cli(user: dict[str, str]) -> None:
    commands = values(complete(user, "bash", "jobterm "))
    assert {"attach", "jobs", "login"} <= set(commands)
    described = dict((v, h) for _, v, h in candidates(complete(user, "zsh", "jobterm j")))
    assert described["jobs"].startswith("List your running jobs")
    options = values(complete(user, "fish", "jobterm jobs --"))
    assert {"--project", "--host", "--everywhere", "--all", "--json"} <= set(options)
    # a file argument: the script completes paths itself
    assert candidates(complete(user, "bash", "jobterm attach --record ")) == [("file", "", "")]


def test_fast_path_table_matches_the_cli() -> None:
    """Every option `protocol.COMMANDS` names exists on that verb, with the right arity."""
    from jobterm.app import build_command

    cli = build_command()
    commands = getattr(cli, "commands", {})
    assert {"attach", "jobs"} <= set(commands)
    for name, (takes, flags_of, has_job) in COMMANDS.items():
        if name not in commands:
            continue  # a verb not built yet: the fast path never sees it on a real line
        params = [p for p in commands[name].params if getattr(p, "opts", None)]
        takes_value = {o for p in params if not getattr(p, "is_flag", False) for o in p.opts}
        flags = {o for p in params if getattr(p, "is_flag", False) for o in p.opts}
        assert takes <= takes_value, (name, takes - takes_value)
        assert flags_of <= flags, (name, flags_of - flags)
        positional = [p for p in commands[name].params if getattr(p, "opts", [""])[0][:1] != "-"]
        assert has_job == any(p.name == "job" for p in positional), name


def test_scripts_call_the_program_the_cli_names() -> None:
    from jobterm.app import build_command
    from jobterm.completion.protocol import PROG

    assert build_command().name == PROG
    assert f"complete -F _{PROG}_completion {PROG}" in completion_gen.script("bash")


def test_classify_sends_unknown_lines_to_typer() -> None:
    assert classify(["attach", "--no-such-option"], "") is None
    assert classify(["attach", "-p"], "") is not None
    assert classify(["exec", "-p", "x", "101", "--"], "") is None
    assert classify([], "") is None
    assert split_words("jobterm attach -p 'demo/my app") == [
        "jobterm",
        "attach",
        "-p",
        "demo/my app",
    ]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["attach", "--help"]])
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    modules = imported_modules(isolated_env(tmp_path), args)
    assert "jobterm" in modules
    assert modules.isdisjoint(HEAVY), modules & set(HEAVY)


def test_cached_completion_imports_neither_typer_nor_anything_heavy(
    user: dict[str, str],
) -> None:
    env = dict(user, _JOBTERM_COMPLETE="complete_bash", COMP_CWORD="4")
    env["COMP_WORDS"] = "jobterm attach -p demo/webapp "
    modules = imported_modules(env, [])
    assert "jobterm" in modules
    # typing costs milliseconds too: the fast path's modules do without it
    slow = {*HEAVY, "typer", "rich", "typing"}
    assert modules.isdisjoint(slow), modules & slow
    env["COMP_WORDS"], env["COMP_CWORD"] = "jobterm ", "1"  # through typer: still nothing heavy
    modules = imported_modules(env, [])
    assert "typer" in modules
    assert modules.isdisjoint(HEAVY), modules & set(HEAVY)


# -- the scripts -----------------------------------------------------------------------------


def test_generated_scripts_match_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobterm.completion.gen", "--check", str(REPO / "completions")],
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )
    assert result.returncode == 0, result.stderr


def test_check_names_what_is_stale(tmp_path: Path) -> None:
    assert completion_gen.main([str(tmp_path)]) == 0
    assert completion_gen.check(tmp_path) is None
    (tmp_path / "jobterm.fish").write_text("complete -c jobterm\n")
    (tmp_path / "_jobterm").unlink()
    problem = completion_gen.check(tmp_path)
    assert problem is not None
    assert "\n" not in problem
    assert "jobterm.fish differs" in problem
    assert "_jobterm is missing" in problem
    assert "make completions" in problem


@pytest.mark.parametrize("shell", SHELLS)
def test_scripts_parse_in_their_shell(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    path = REPO / "completions" / completion_gen.FILES[shell]
    result = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("shell", SHELLS)
def test_install_and_show_completion(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    env = isolated_env(tmp_path)
    env["HOME"] = str(tmp_path / "home")
    env.pop("XDG_CONFIG_HOME", None)
    # Run from inside that shell (`; true` keeps it from exec'ing us): jobterm detects it.
    flag = "-fc" if shell == "zsh" else "-c"
    command = f"{shlex_quote(sys.executable)} -m jobterm --install-completion; true"
    result = subprocess.run(
        [shell, flag, command], capture_output=True, text=True, env=env, timeout=scaled(60)
    )
    assert result.returncode == 0, result.stderr
    assert f"{shell} completion installed in" in result.stdout
    home = tmp_path / "home"
    expected = completion_gen.script(shell)
    installed = {
        "bash": home / ".bash_completions" / "jobterm.bash",
        "zsh": home / ".zfunc" / "_jobterm",
        "fish": home / ".config" / "fish" / "completions" / "jobterm.fish",
    }[shell]
    assert installed.read_text() == expected
    assert expected == (REPO / "completions" / completion_gen.FILES[shell]).read_text()
    if shell == "bash":
        assert ". ~/.bash_completions/jobterm.bash" in (home / ".bashrc").read_text()
    if shell == "zsh":
        assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text()
    # again: nothing is added twice
    subprocess.run([shell, flag, command], capture_output=True, env=env, timeout=scaled(60))
    for rc in (home / ".bashrc", home / ".zshrc"):
        if rc.exists():
            assert len(rc.read_text().strip().splitlines()) == 1
    show = f"{shlex_quote(sys.executable)} -m jobterm --show-completion; true"
    shown = subprocess.run(
        [shell, flag, show], capture_output=True, text=True, env=env, timeout=scaled(60)
    )
    assert shown.stdout == expected


def shlex_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


@pytest.mark.parametrize(
    "environ",
    [
        {"JOBTERM_CONFIG_DIR": "/c", "JOBTERM_CACHE_DIR": "/k"},
        {"XDG_CONFIG_HOME": "/x/config", "XDG_CACHE_HOME": "/x/cache"},
        {"HOME": str(Path.home())},
    ],
)
def test_fast_path_finds_the_same_directories(environ: dict[str, str]) -> None:
    from jobterm.completion.where import cache_dir, config_dir
    from jobterm.env import Environment

    env = Environment(environ=environ)
    assert (config_dir(environ), cache_dir(environ)) == (str(env.config_dir), str(env.cache_dir))


@pytest.mark.parametrize(
    ("chosen", "gitlab_host"),
    [
        (None, None),
        ("gitlab.example.com", None),
        ("https://gitlab.example.com:443/", None),
        (None, "http://127.0.0.1:3000"),
        ("127.0.0.1:3000", None),
        ("HTTPS://Example.com/GitLab/", None),
        ("other.example.com", None),
    ],
)
def test_fast_path_picks_the_host_the_commands_pick(
    tmp_path: Path, chosen: str | None, gitlab_host: str | None
) -> None:
    """where.signed_in_host agrees with gitlab.session.resolve_host (the commands')."""
    import json

    from jobterm.completion.where import read_config, signed_in_host
    from jobterm.env import Environment
    from jobterm.gitlab.config import load_config
    from jobterm.gitlab.session import resolve_host

    environ = {"JOBTERM_CONFIG_DIR": str(tmp_path)}
    if gitlab_host:
        environ["GITLAB_HOST"] = gitlab_host
    hosts = {
        "gitlab.example.com": {"base_url": "https://gitlab.example.com", "username": "me"},
        "127.0.0.1:3000": {"base_url": "http://127.0.0.1:3000", "username": "demo"},
        "example.com/gitlab": {"base_url": "https://example.com/gitlab", "username": "x"},
    }
    (tmp_path / "config.json").write_text(
        json.dumps({"default_host": "gitlab.example.com", "hosts": hosts})
    )
    env = Environment(environ=environ)
    host, entry = resolve_host(env, load_config(env), chosen)
    expected = host.name if entry is not None else None
    assert signed_in_host(environ, read_config(environ), chosen) == expected


def test_job_of_exec_through_typer_then_through_the_spec(user: dict[str, str]) -> None:
    """An option the built-in table does not know sends the first Tab through typer (whose JOB
    parameter asks the same cache); the spec written then answers the next Tab itself."""
    line = "jobterm exec --timeout 5 -p demo/webapp "
    spec_file = Path(user["JOBTERM_CACHE_DIR"]) / "cli-spec.json"
    assert not spec_file.exists()
    assert values(complete(user, "bash", line)) == ["101", "102"]
    assert spec_file.exists()
    assert values(complete(user, "bash", line)) == ["101", "102"]
    request = {"_JOBTERM_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": "6"}
    assert "typer" not in imported_modules(dict(user, **request), [])


def test_logout_completes_signed_in_hosts(user: dict[str, str]) -> None:
    assert candidates(complete(user, "zsh", "jobterm logout ")) == [
        ("plain", "127.0.0.1:9", "demo (default)")
    ]
