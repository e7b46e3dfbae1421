"""The job log reader: section markers hidden, colours kept, every other escape removed,
facts read; fed whole, byte by byte, and in any chunks (hypothesis)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobterm.core.joblog import (
    MAX_LINE,
    Event,
    Executor,
    JobFinished,
    JobLogReader,
    ScriptCommand,
    ScriptEnded,
    TerminalHeld,
    Text,
)

E = "\x1b"
# Shaped as GitLab Runner writes a log (build logger, sections, the shell's echo lines).
LOG = (
    f"{E}[0KRunning with gitlab-runner 17.6.0 (abc)\n"
    f"{E}[0K  on runner-1 t0000001{E}[0;m\n"
    f"section_start:1700000000:prepare_executor\r{E}[0K"
    f'{E}[0K{E}[36;1mPreparing the "docker" executor{E}[0;m{E}[0;m\n'
    f"{E}[0KUsing Docker executor with image alpine:3.20 ...{E}[0;m\n"
    f"section_end:1700000001:prepare_executor\r{E}[0K"
    f"section_start:1700000001:step_script[collapsed=true]\r{E}[0K"
    f'{E}[0K{E}[36;1mExecuting "step_script" stage of the job script{E}[0;m{E}[0;m\n'
    f"{E}[32;1m$ make report{E}[0;m\n"
    f"wrote {E}[1mreport.xml{E}[0m\n"
    f"{E}[32;1m$ make test{E}[0;m\n"
    "tests: 3 failed\n"
    "make: *** [test] Error 2\n"
    f"section_end:1700000009:step_script\r{E}[0K"
    f"{E}[32;1mTerminal is connected, will time out in 30m0s...{E}[0;m\n"
    f"{E}[32;1mTerminal disconnected{E}[0;m\n"
    f"{E}[31;1mERROR: Job failed: exit code 2{E}[0;m\n"
).encode()


def run(chunks: list[bytes], colour: bool = True) -> tuple[JobLogReader, list[Event]]:
    reader = JobLogReader(colour=colour)
    events: list[Event] = []
    for chunk in chunks:
        events += reader.feed(chunk)
    events += reader.finish()
    return reader, events


def shown(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Text))


def facts(events: list[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, Text)]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


@pytest.mark.parametrize("split", ["whole", "bytes"])
def test_a_runner_log_shows_without_markers_and_gives_its_facts(split: str) -> None:
    reader, events = run([LOG] if split == "whole" else bytewise(LOG))
    text = shown(events).decode()
    assert "section_" not in text
    assert "\r" not in text
    assert f"{E}[0K" not in text  # erase-in-line is not a colour: gone
    assert f'{E}[36;1mPreparing the "docker" executor{E}[0;m{E}[0;m\n' in text  # colours kept
    assert f"wrote {E}[1mreport.xml{E}[0m\n" in text
    assert text.startswith("Running with gitlab-runner 17.6.0 (abc)\n")
    assert facts(events) == [
        Executor("docker"),
        ScriptCommand("make report"),
        ScriptCommand("make test"),
        ScriptEnded(),
        TerminalHeld("30m0s"),
        JobFinished(False, 2, "exit code 2"),
    ]
    summary = reader.summary
    assert summary.executor == "docker"
    assert summary.last_command == "make test"
    assert summary.last_output == "make: *** [test] Error 2"  # the shell's own error
    assert summary.commands == ["make report", "make test"]
    assert summary.script_ended
    assert summary.terminal_held == "30m0s"


def test_without_colour_every_escape_goes() -> None:
    _, events = run([LOG], colour=False)
    assert E.encode() not in shown(events)
    assert b"wrote report.xml\n" in shown(events)


@pytest.mark.parametrize(
    ("line", "facts_seen"),
    [
        ("\x1b[32;1mJob succeeded\x1b[0;m\n", [JobFinished(True)]),
        ("\x1b[31;1mERROR: Job failed: canceled\x1b[0;m\n", [JobFinished(False, None, "canceled")]),
        (
            "ERROR: Job failed (system failure): no such image\n",
            [JobFinished(False, None, "no such image")],
        ),
        ("Using Shell (bash) executor...\n", [Executor("shell")]),
        ('Preparing the "kubernetes" executor\n', [Executor("kubernetes")]),
        ("Using Kubernetes executor with image alpine ...\n", [Executor("kubernetes")]),
        ("$ not echoed by the runner (no colour)\n", []),
        (
            "ERROR: Job failed: exit code 99999999999999999999\n",
            [JobFinished(False, None, "exit code 99999999999999999999")],
        ),
    ],
)
def test_facts(line: str, facts_seen: list[Event]) -> None:
    assert facts(run([line.encode()])[1]) == facts_seen


@pytest.mark.parametrize(
    "hostile",
    [
        "\x1b]0;owned title\x07",  # OSC: window title
        "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07",  # OSC 52: write the clipboard
        "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",  # hyperlink
        "\x1b[2J\x1b[H",  # clear the screen, home
        "\x1b[6n",  # ask for the cursor position: the answer would be typed
        "\x1b[?1049h",  # alternate screen
        "\x1bP+q544e\x1b\\",  # DCS: terminfo query
        "\x1b_apc\x1b\\",
        "\x1bc",  # full reset
        "\x1b[31;1;4;5;7;8;9;22;24;25;27;28;29;38;5;196;48;2;1;2;3",  # an SGR cut short
        "\u009b2J",  # C1 CSI as a character
        "\x07\x08\x0b\x0c\x7f",  # BEL, BS, VT, FF, DEL
        "\x1b",
    ],
)
def test_hostile_sequences_are_removed(hostile: str) -> None:
    line = f"before{hostile}\nafter\n".encode()  # a line's end ends an unfinished sequence
    for chunks in ([line], bytewise(line)):
        text = shown(run(chunks)[1]).decode()
        assert text.startswith("before")
        assert text.endswith("\nafter\n")
        assert not _UNSAFE.search(text), repr(text)


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert shown(run([b"caf\xc3\xa9 \xff\xfe ok\n"])[1]) == "café \ufffd\ufffd ok\n".encode()


def test_a_line_waits_for_its_newline_and_the_end_flushes_it() -> None:
    reader = JobLogReader()
    assert reader.feed(b"no newline yet") == []
    assert reader.feed(b" still\n") == [Text(b"no newline yet still\n")]
    assert reader.feed(b"last") == []
    assert reader.finish() == [Text(b"last")]


def test_a_line_of_only_markers_is_dropped_but_empty_lines_stay() -> None:
    text = shown(run([b"a\nsection_end:1:x\r\x1b[0K\n\nb\n"])[1])
    assert text == b"a\n\nb\n"


def test_a_huge_line_is_shown_in_parts() -> None:
    reader = JobLogReader()
    events = reader.feed(b"x" * (MAX_LINE * 2 + 10))
    assert [len(e.data) for e in events if isinstance(e, Text)] == [MAX_LINE, MAX_LINE]
    assert reader.finish() == [Text(b"x" * 10)]


_UNSAFE = re.compile(r"\x1b(?!\[[0-9;:]*m)|[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]")


@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=8))
def test_any_bytes_in_any_chunks(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    whole_reader, whole = run([data])
    _, chunked = run(chunks)
    assert shown(chunked) == shown(whole)
    assert facts(chunked) == facts(whole)
    assert not _UNSAFE.search(shown(whole).decode())
    assert whole_reader.summary.finished is None or any(isinstance(e, JobFinished) for e in whole)


@given(st.text(alphabet=st.sampled_from(list("ab\x1b[]0;m\x07\\\r\n$ Pq_"))))
def test_escape_soup_never_leaks(text: str) -> None:
    assert not _UNSAFE.search(shown(run([text.encode()])[1]).decode())


@pytest.mark.parametrize("control", ["\u202e", "\u2066", "\u200f", "\u061c"])
def test_bidi_controls_are_shown_not_obeyed(control: str) -> None:
    """They would reorder the line on screen, and jobterm's own lines that quote it."""
    line = f"\x1b[32;1m$ make {control}evil\x1b[0;m\nout {control}put\n".encode()
    text = shown(run([line])[1]).decode()
    reader = JobLogReader()
    reader.feed(line)
    for seen in (text, reader.summary.last_command or "", reader.summary.last_output or ""):
        assert control not in seen, repr(seen)
    assert f"<U+{ord(control):04X}>" in text


def test_the_held_line_counts_only_after_the_scripts_section():
    """A script that prints the runner's words does not make the job look held."""
    reader = JobLogReader()
    reader.feed(b"section_start:1:step_script\r\x1b[0K\x1b[32;1m$ echo\x1b[0;m\n")
    reader.feed(b"\x1b[32;1mTerminal is connected, will time out in 99h0m0s...\x1b[0;m\n")
    assert reader.summary.terminal_held is None
    reader.feed(b"section_end:2:step_script\r\x1b[0K\n")
    reader.feed(b"\x1b[32;1mTerminal is connected, will time out in 30m0s...\x1b[0;m\n")
    assert reader.summary.terminal_held == "30m0s"


@pytest.mark.parametrize(
    "leftover",
    ["\x1b[8m", "\x1b[30;40m", "\x1b[7m", "\x1b[38;5;16;48;5;16m", "\x1b[8"],
)
def test_a_lines_colours_end_with_it(leftover: str) -> None:
    """What a log line leaves set (concealed, black on black) never reaches what follows:
    rendered by a terminal emulator, the next line and the text after the log are plain."""
    import pyte

    for tail in ("\n", ""):  # a whole line, and a last line without its newline
        log = f"\x1b[31mred {leftover}hidden{tail}".encode()
        reader = JobLogReader(colour=True)
        out = b"".join(e.data for e in reader.feed(log) + reader.finish() if hasattr(e, "data"))
        screen = pyte.Screen(40, 3)
        pyte.ByteStream(screen).feed(out + b"\r\nafter")
        row = screen.buffer[screen.cursor.y]
        cells = [row[x] for x in range(5)]
        assert "".join(c.data for c in cells) == "after"
        plain = [(c.fg, c.bg, c.reverse) for c in cells]
        assert plain == [("default", "default", False)] * 5, (leftover, tail, plain)


def test_only_the_runners_sections_after_the_script_are_facts():
    """A script that prints a section marker of the runner's does not make it one."""
    reader = JobLogReader()
    reader.feed(b"section_start:1:step_script\r\x1b[0K\x1b[32;1m$ cat fixture\x1b[0;m\n")
    reader.feed(b"section_start:2:upload_artifacts_on_success\r\x1b[0Kfrom the fixture\n")
    assert reader.summary.sections == []
    reader.feed(
        b"section_end:3:step_script\r\x1b[0Ksection_start:3:upload_artifacts_on_failure\r\x1b[0K"
        b"\x1b[36;1mUploading artifacts for failed job\x1b[0;m\n"
    )
    assert reader.summary.sections == ["upload_artifacts_on_failure"]


def test_the_sandbox_echoes_a_command_of_several_lines_as_the_runner_does():
    from jobterm.sandbox.runnerlog import echo

    assert "$ make # collapsed multi-line command" in echo("make\nmake test")
    assert "collapsed" not in echo("make")
