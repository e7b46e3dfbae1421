"""A byte-by-byte model of the escape rules (`~.` and friends at the start of a line), the
slow and obvious way: the tests check `jobterm.core.escape.EscapeParser` against it."""

from __future__ import annotations

from jobterm.core.escape import Action, Command, Data


def reference_events(typed: bytes, esc: int) -> list[Data | Command]:
    """The escape rules byte by byte, as an ordered list of events (adjacent data merged)."""
    table = {ord(a.value): a for a in Action}
    events: list[Data | Command] = []
    out = bytearray()
    line_start, held = True, False

    def flush() -> None:
        if out:
            events.append(Data(bytes(out)))
            out.clear()

    for b in typed:
        if held:
            held = False
            if b in table:
                flush()
                events.append(Command(table[b]))
                line_start = True
                continue
            out.append(esc)
            if b == esc:
                line_start = False
                continue
        elif b == esc and line_start:
            held = True
            continue
        out.append(b)
        line_start = b in b"\r\n"
    flush()
    return events


def reference(typed: bytes, esc: int = ord("~")) -> tuple[bytes, list[Action]]:
    """The model's answer as (the data passed on, the actions in order)."""
    events = reference_events(typed, esc)
    data = b"".join(e.data for e in events if isinstance(e, Data))
    return data, [e.action for e in events if isinstance(e, Command)]
