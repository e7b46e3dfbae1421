"""The transfer's own small pieces, with no session: what it keeps of the job's answers."""

from __future__ import annotations

import asyncio

from jobterm.cp.transfer import ANSWER_LIMIT, _Answer, _their_sum


def test_the_checksum_line_survives_warnings_before_it() -> None:
    """The programs print their checksum last; a tool's warnings before it (more than the
    limit kept) must not push it out."""
    answer = _Answer()
    line = b"sha256 " + b"ab" * 32 + b"\n"

    async def feed() -> None:
        for piece in [b"tar: a warning from the job\n" * (ANSWER_LIMIT // 10), line]:
            await answer.write(piece)

    asyncio.run(feed())
    assert len(answer.data) <= ANSWER_LIMIT
    assert _their_sum(answer.data) == ("sha256", "ab" * 32)
