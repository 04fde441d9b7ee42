"""Griffe extension for the API guide: our docstrings as Markdown.

The library's docstrings are NumPy style with Sphinx roles, as the STYLE file asks; the
mkdocstrings Python handler reads NumPy sections but not roles, and renders a bare
``>>>`` example outside an Examples section as a quotation. On each loaded object:

* ``:func:`~kor.change.episode_change``` becomes ```episode_change``` (code), and
  ``:class:`Measure``` becomes ```Measure```;
* a bare doctest block (``>>>`` lines and their output, up to a blank line) outside an
  Examples section is fenced as a ``pycon`` code block;
* in a References section, each reference (a line opening with a surname and
  initials) starts its own paragraph, instead of all of them running into one.

Configured in mkdocs.yml (``handlers: python: options: extensions``).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")
HEADER_RULE = re.compile(r"^-{3,}\s*$")
AUTHOR = re.compile(r"^[A-Z][\w'’\-]+(?: [a-z]{1,3})? [A-Z]{1,3}[,.]")


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def _sections(lines: list[str]) -> list[str | None]:
    """The NumPy section each line is in (None before the first header)."""
    out: list[str | None] = []
    current: str | None = None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and HEADER_RULE.match(lines[i + 1]) and line.strip():
            current = line.strip()
        out.append(current)
    return out


def rewrite(text: str) -> str:
    """The docstring ``text`` with roles, bare doctests and references made Markdown."""
    text = ROLE.sub(_role, text)
    lines = text.split("\n")
    sections = _sections(lines)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        section = sections[i]
        if line.lstrip().startswith(">>>") and section != "Examples":
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            if out and out[-1].strip():
                out.append("")
            out += [f"{indent}```pycon", *block, f"{indent}```"]
            continue
        if (
            section == "References"
            and AUTHOR.match(line)
            and out
            and out[-1].strip()
            and not HEADER_RULE.match(out[-1])
        ):
            out.append("")
        out.append(line)
        i += 1
    return "\n".join(out)


class Docstrings(Extension):
    """Rewrite every object's docstring with :func:`rewrite` when it is loaded."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
