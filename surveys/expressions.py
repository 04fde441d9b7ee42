"""The small part of XPath that interview forms use in ``relevant``, ``required`` and
``constraint``, parsed and evaluated without Python ``eval``.

Forms made in KoboToolbox or ODK show a question only when an earlier answer calls for it
(``${used_service} = 'yes'``), make it required on a condition, or check an answer
(``. >= 0 and . <= 10``). The workbench honours exactly this language and refuses any
other construct when the form is read, so a form never runs with its logic ignored:

* ``${name}`` (the answer to a question), ``.`` (the answer being checked);
* numbers (``3``, ``-1``, ``2.5``), strings in single or double quotes;
* comparisons ``= != < <= > >=`` (XPath 1.0 rules: a comparison with a number compares
  numbers, an empty answer is not a number, ``<``/``>`` always compare numbers);
* ``and``, ``or``, ``not(…)``, ``true()``, ``false()``, ``selected(${name}, 'choice')``;
* parentheses.

An unanswered question is the empty string, as in XForms; a multiple choice answer is the
space-separated choice names (or a list of them).

>>> parse("${a} >= 3 and not(selected(${b}, 'x'))").evaluate({"a": "4", "b": "y z"})
True
>>> sorted(parse("${a} = 1 or ${b} != ''").references)
['a', 'b']
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Expression", "ExpressionError", "parse", "truthy", "is_literal"]

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<ref>\$\{\s*(?P<refname>[A-Za-z_][\w.\-]*)\s*\})
  | (?P<num>\d+(?:\.\d*)?|\.\d+)
  | (?P<str>'[^']*'|"[^"]*")
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<lpar>\()
  | (?P<rpar>\))
  | (?P<comma>,)
  | (?P<dotdot>\.\.)
  | (?P<dot>\.)
  | (?P<name>[A-Za-z_][\w\-]*(?::[A-Za-z_][\w\-]*)?)
  | (?P<other>.)
    """,
    re.VERBOSE,
)
_FUNCTIONS = {"not": 1, "selected": 2, "true": 0, "false": 0}


class ExpressionError(ValueError):
    """The expression is outside the supported language.

    kind: ``"unsupported"`` (a construct the workbench does not evaluate, named in
    ``construct``, e.g. ``«+»`` or ``«string-length()»``) or ``"syntax"`` (not a complete
    expression, e.g. an unclosed parenthesis; ``construct`` is the token where it broke).
    """

    def __init__(self, kind: str, construct: str) -> None:
        self.kind = kind
        self.construct = construct
        super().__init__(f"{kind}: {construct}")


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: str = ""


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        raw = match.group(0)
        if match.group("ref"):
            out.append(_Token("ref", raw, match.group("refname")))
        elif kind == "space":
            continue
        elif kind == "other" and raw == "-":
            out.append(_Token("minus", raw, raw))
        elif kind == "other":
            raise ExpressionError("unsupported", f"«{raw}»")
        elif kind == "dotdot":
            raise ExpressionError("unsupported", "«..»")
        elif kind == "str":
            out.append(_Token("str", raw, raw[1:-1]))
        else:
            out.append(_Token(kind, raw, raw))
    return out


@dataclass(frozen=True)
class Expression:
    """A parsed expression; ``text`` as written, ``references`` the ``${names}`` it reads."""

    text: str
    tree: tuple
    references: frozenset[str]

    def evaluate(
        self,
        answers: Mapping[str, Any] | Callable[[str], Any],
        current: Any = None,
    ) -> bool:
        """True or False for ``answers`` (name -> answer, or a lookup function) with
        ``current`` as ``.``; XPath's boolean() of the result."""
        lookup = answers if callable(answers) else (lambda n: answers.get(n))  # type: ignore[union-attr]
        return truthy(_eval(self.tree, lookup, current))


def parse(text: str) -> Expression:
    """Parse ``text``; raises :class:`ExpressionError` naming the unsupported construct."""
    parser = _Parser(_tokens(text))
    tree = parser.expression()
    if parser.pos < len(parser.tokens):
        token = parser.tokens[parser.pos]
        if token.kind == "op":
            raise ExpressionError("unsupported", "«a = b = c»")
        raise ExpressionError("syntax", f"«{token.text}»")
    return Expression(text, tree, frozenset(parser.references))


def is_literal(text: str) -> bool:
    """A quoted string or a number: what a Kobo ``__version__`` calculation holds."""
    try:
        tokens = _tokens(text)
    except ExpressionError:
        return False
    return len(tokens) == 1 and tokens[0].kind in ("str", "num")


class _Parser:
    """Recursive descent: or > and > comparison > primary."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.references: set[str] = set()

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str) -> _Token:
        token = self.peek()
        if token is None:
            raise ExpressionError("syntax", "«»")
        if token.kind != kind:
            raise ExpressionError("syntax", f"«{token.text}»")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "name" and token.text == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> tuple:
        node = self.conjunction()
        while self.keyword("or"):
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> tuple:
        node = self.comparison()
        while self.keyword("and"):
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> tuple:
        left = self.primary()
        token = self.peek()
        if token is not None and token.kind == "minus":
            raise ExpressionError("unsupported", "«-»")
        if token is not None and token.kind == "op":
            self.pos += 1
            right = self.primary()
            return ("cmp", token.text, left, right)
        return left

    def primary(self) -> tuple:
        token = self.peek()
        if token is None:
            raise ExpressionError("syntax", "«»")
        self.pos += 1
        if token.kind == "ref":
            self.references.add(token.value)
            return ("ref", token.value)
        if token.kind == "dot":
            return ("dot",)
        if token.kind == "num":
            return ("num", float(token.value))
        if token.kind == "minus":
            number = self.peek()
            if number is None or number.kind != "num":
                raise ExpressionError("unsupported", "«-»")
            self.pos += 1
            return ("num", -float(number.value))
        if token.kind == "str":
            return ("str", token.value)
        if token.kind == "lpar":
            node = self.expression()
            self.take("rpar")
            return node
        if token.kind == "name":
            following = self.peek()
            if following is None or following.kind != "lpar":
                raise ExpressionError("unsupported", f"«{token.text}»")
            if token.text not in _FUNCTIONS:
                raise ExpressionError("unsupported", f"«{token.text}()»")
            self.pos += 1
            args: list[tuple] = []
            if self.peek() is not None and self.peek().kind != "rpar":  # type: ignore[union-attr]
                args.append(self.expression())
                while self.peek() is not None and self.peek().kind == "comma":  # type: ignore[union-attr]
                    self.pos += 1
                    args.append(self.expression())
            self.take("rpar")
            if len(args) != _FUNCTIONS[token.text]:
                raise ExpressionError("syntax", f"«{token.text}()»")
            return ("call", token.text, *args)
        raise ExpressionError("syntax", f"«{token.text}»")


# ------------------------------------------------------------------ evaluation
def _value(answer: Any) -> Any:
    if answer is None:
        return ""
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, (int, float)):
        return float(answer)
    if isinstance(answer, (list, tuple, set, frozenset)):
        return " ".join(str(a) for a in answer)
    return str(answer).strip()


def _number(value: Any) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        return math.nan


def truthy(value: Any) -> bool:
    """XPath boolean(): a non-zero number, a non-empty string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return not (value == 0 or math.isnan(value))
    return value != ""


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("=", "!="):
        if isinstance(left, bool) or isinstance(right, bool):
            same = truthy(left) == truthy(right)
        elif isinstance(left, float) or isinstance(right, float):
            same = _number(left) == _number(right)
        else:
            same = str(left) == str(right)
        return same if op == "=" else not same
    a, b = _number(left), _number(right)
    if math.isnan(a) or math.isnan(b):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _eval(node: tuple, lookup: Callable[[str], Any], current: Any) -> Any:
    kind = node[0]
    if kind == "ref":
        return _value(lookup(node[1]))
    if kind == "dot":
        return _value(current)
    if kind in ("num", "str"):
        return node[1]
    if kind == "and":
        return truthy(_eval(node[1], lookup, current)) and truthy(_eval(node[2], lookup, current))
    if kind == "or":
        return truthy(_eval(node[1], lookup, current)) or truthy(_eval(node[2], lookup, current))
    if kind == "cmp":
        return _compare(node[1], _eval(node[2], lookup, current), _eval(node[3], lookup, current))
    name = node[1]
    if name == "not":
        return not truthy(_eval(node[2], lookup, current))
    if name == "true":
        return True
    if name == "false":
        return False
    # selected(answer, choice)
    answer = _eval(node[2], lookup, current)
    choice = str(_eval(node[3], lookup, current)).strip()
    return choice in str(answer).split()
