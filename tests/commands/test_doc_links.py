"""Class: every relative link in the project's Markdown resolves inside the repository.

A reader who cloned jobterm must be able to follow each link of README.md, every other
top-level *.md, bench/README.md and docs/: the target exists, lies inside the repository
(not in a sibling directory of the machine it was written on) and, for `file.md#anchor`, the
heading exists. Markdown is parsed with markdown-it (links inside code are not links); a
Markdown file named in backticks (`docs/protocol.md`) must exist too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    {*ROOT.glob("*.md"), *ROOT.glob("docs/**/*.md"), *ROOT.glob("bench/*.md")},
)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
CODE_MD_PATH = re.compile(r"^[\w./-]+\.md$")


def links_of(path: Path) -> list[str]:
    """The link and image targets of a Markdown file, and Markdown paths named in code."""
    found: list[str] = []
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    for token in tokens:
        for child in token.children or []:
            if child.type == "link_open":
                found.append(str(child.attrs.get("href", "")))
            elif child.type == "image":
                found.append(str(child.attrs.get("src", "")))
            elif child.type == "code_inline" and CODE_MD_PATH.match(child.content):
                found.append(child.content)
    return found


def slugs_of(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    slugs = set()
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            text = tokens[index + 1].content.strip().lower()
            text = re.sub(r"[^\w\- ]", "", text)
            slugs.add(text.replace(" ", "-"))
    return slugs


def test_the_docs_are_found():
    names = {str(p.relative_to(ROOT)) for p in DOCS}
    assert {"README.md", "docs/protocol.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_class_resolve_inside_the_repository(doc):
    broken = []
    for target in links_of(doc):
        if not target or EXTERNAL.match(target):
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not resolved.exists():
            # A path in backticks may be written from the repository's root.
            if not (path_part and (ROOT / path_part).exists()):
                broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in slugs_of(resolved):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, broken
