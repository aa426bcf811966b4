"""Parse the MATLAB value syntax that ScanImage writes into its TIFF metadata.

ScanImage stores its settings as ``key = value`` lines whose right-hand sides are
MATLAB literals: ``SI.hChannels.channelSave = [1 2]``, ``SI.hBeams.pzAdjust =
scanimage.types.BeamAdjustTypes.None``, ``SI.hChannels.channelLUT = {[21 42] [22 45]}``.
:func:`parse_value` turns one right-hand side into plain Python values without ``eval``.

Conversions (chosen so that results are JSON-friendly and compare easily):

==========================================  ==============================================
MATLAB text                                 Python value
==========================================  ==============================================
``3``, ``-0``                               ``int``
``2.5``, ``1e+06``, ``Inf``, ``-Inf``,      ``float`` (a number with ``.`` or an exponent is
``NaN``                                     a float, as MATLAB would print it)
``true`` / ``false``                        ``bool``
``'it''s'``, ``"a ""b"" c"``                ``str`` (doubled quotes unescaped)
``[]``, ``{}``, ``zeros(0,2)``              ``[]``
``[7]``                                     ``7`` (a 1x1 matrix is a scalar in MATLAB)
``[1 2]``, ``[1;2]``, ``[1,2]``             ``[1, 2]`` (row and column vectors are flat lists)
``[-9 -9;9 -9]``                            ``[[-9, -9], [9, -9]]`` (rows of a matrix)
``['ab' 'cd']``                             ``'abcd'`` (MATLAB concatenates char arrays)
``{16 16}``, ``{'a' 'b'}``, ``{'a'}``       lists; a cell is a container, so a 1x1 cell
                                            stays a one-element list (tifffile unboxes it)
``{[21 42] [22 45]}``                       ``[[21, 42], [22, 45]]``
``scanimage.types.BeamAdjustTypes.None``    :class:`Symbol` (a ``str`` subclass)
``@scanimage.util.defaultPowerFunction``    :class:`Symbol` with the ``@``
``<nonscalar struct/object>``               :class:`Symbol` with the angle brackets
``struct('a',1,'b',[1 2])``                 ``{'a': 1, 'b': [1, 2]}``
``ones(2,3)``, ``nan(1,2)``, ``cell(1,2)``  nested lists of that shape
``int16(5)``, ``logical([1 0])``            the converted value (``5``, ``[True, False]``)
other ``name(...)`` calls                   :class:`Symbol` with the call text
==========================================  ==============================================

Invalid syntax (an unterminated string, unbalanced brackets, rows of different lengths,
operators such as ``1:5`` or ``1 + 2``) raises :class:`MatlabSyntaxError`, a ``ValueError``.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MatlabSyntaxError", "Symbol", "parse_value"]


class MatlabSyntaxError(ValueError):
    """The text is not a MATLAB value this parser understands.

    ``text`` is the whole input and ``position`` the character index where parsing failed.
    """

    def __init__(self, problem: str, text: str, position: int):
        self.problem = problem
        self.text = text
        self.position = position
        super().__init__(f"{problem} at character {position} of {_excerpt(text)}")


class Symbol(str):
    """A MATLAB name that is not a literal: an enum member, a function handle, an opaque ``<...>``.

    It compares equal to the plain string, so ``value == "scanimage.types.BeamAdjustTypes.None"``
    works, while ``isinstance(value, Symbol)`` tells it apart from a quoted MATLAB string.

    >>> parse_value("scanimage.types.BeamAdjustTypes.None")
    Symbol('scanimage.types.BeamAdjustTypes.None')
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__repr__(self)})"


def parse_value(text: str) -> Any:
    """Parse one MATLAB right-hand side (see the module docstring for the conversions).

    >>> parse_value("[1 2;3 4]")
    [[1, 2], [3, 4]]
    >>> parse_value("{'Channel 1' 'it''s'}")
    ['Channel 1', "it's"]
    >>> parse_value("1e+06"), parse_value("-Inf"), parse_value("true")
    (1000000.0, -inf, True)
    >>> parse_value("[1 2")
    Traceback (most recent call last):
    ...
    si_explorer.scanimage.matlab.MatlabSyntaxError: missing ']' at character 4 of '[1 2'
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_value expects str, not {type(text).__name__}")
    stripped = text.strip()
    # Waveforms and pixel masks are numeric vectors of up to millions of numbers; the
    # general parser spends ~1 us per element on them, the split-and-convert path a tenth.
    if len(stripped) > 256 and _PLAIN_NUMERIC_MATRIX.fullmatch(stripped):
        fast = _parse_plain_numeric_matrix(stripped)
        if fast is not _NOT_PLAIN:
            return fast
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------
# Implementation


def _excerpt(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|Inf\b|inf\b|NaN\b|nan\b)",
)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
# Characters that may end a token inside a matrix or cell, or the whole value.
_DELIMITERS = frozenset(" \t\r\n,;]})")
_WHITESPACE = frozenset(" \t\r\n")
_BLANKS = frozenset(" \t")
_PLAIN_NUMERIC_MATRIX = re.compile(r"\[[0-9eE+\-.,; \t]*\]")
_NOT_PLAIN = object()

_FILLERS = {"zeros": 0, "ones": 1, "nan": float("nan"), "NaN": float("nan")}
_FILLERS.update({"inf": float("inf"), "Inf": float("inf"), "true": True, "false": False})
_INT_CASTS = {f"{s}int{b}" for s in ("", "u") for b in (8, 16, 32, 64)}
_FLOAT_CASTS = {"double", "single"}


def _number(token: str) -> int | float:
    body = token.lstrip("+-")
    if body.isdigit():
        return int(token)
    return float(token)


def _parse_plain_numeric_matrix(text: str) -> Any:
    """Fast path for ``[...]`` holding only numbers; ``_NOT_PLAIN`` when it is not that simple."""
    rows = []
    for row_text in text[1:-1].split(";"):
        tokens = row_text.replace(",", " ").split()
        if not tokens:
            continue
        try:
            rows.append([int(t) if t.lstrip("+-").isdigit() else float(t) for t in tokens])
        except ValueError:
            # "1-2" or "e5" are not numbers: let the general parser produce the error.
            return _NOT_PLAIN
    return _shape_rows(rows, text, 0)


def _shape_rows(rows: list[list[Any]], text: str, position: int) -> Any:
    """MATLAB matrix/cell rows -> scalar, flat list (vectors) or list of rows (matrices)."""
    if not rows:
        return []
    width = len(rows[0])
    for row in rows:
        if len(row) != width:
            raise MatlabSyntaxError(
                f"rows of different lengths ({width} and {len(row)})", text, position
            )
    if len(rows) == 1:
        return rows[0]
    if width == 1:
        return [row[0] for row in rows]
    return rows


def _filled(shape: list[int], value: Any) -> Any:
    """A MATLAB ``zeros(m, n)``-style array as nested lists, shaped like a parsed literal."""
    if any(n == 0 for n in shape):
        return []
    if len(shape) == 1:
        shape = [shape[0], shape[0]]  # zeros(n) is n-by-n in MATLAB
    if len(shape) != 2:
        raise ValueError("only 2-D shapes are supported")
    rows, cols = shape
    if rows == 1 and cols == 1:
        return value
    if rows == 1 or cols == 1:
        return [value] * (rows * cols)
    return [[value] * cols for _ in range(rows)]


def _cast(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_cast(name, v) for v in value]
    if isinstance(value, str):
        raise ValueError(f"{name}() of text is not supported")
    if name == "logical":
        return bool(value)
    if name in _INT_CASTS:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name}({value}) has no integer value")
        return int(round(value))
    return float(value)


class _Parser:
    """Recursive-descent parser over one value; ``self.pos`` indexes ``self.text``."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    def error(self, problem: str, position: int | None = None) -> MatlabSyntaxError:
        return MatlabSyntaxError(problem, self.text, self.pos if position is None else position)

    def skip(self, chars: frozenset[str] = _WHITESPACE) -> None:
        text, pos, n = self.text, self.pos, len(self.text)
        while pos < n and text[pos] in chars:
            pos += 1
        self.pos = pos

    def parse(self) -> Any:
        self.skip()
        if self.pos == len(self.text):
            raise self.error("empty value")
        value = self.expression(top=True)
        self.skip()
        if self.pos != len(self.text):
            raise self.error(f"unexpected {self.text[self.pos]!r} after the value")
        return value

    # -- one element ---------------------------------------------------------------------

    def expression(self, top: bool = False) -> Any:
        text, pos = self.text, self.pos
        ch = text[pos]
        if ch == "'" or ch == '"':
            return self.string(ch)
        if ch == "[":
            return self.brackets("[", "]")
        if ch == "{":
            return self.brackets("{", "}")
        if ch == "@":
            return self.handle(top)
        if ch == "<":
            end = text.find(">", pos + 1)
            if end < 0:
                raise self.error("missing '>'")
            self.pos = end + 1
            self.expect_delimiter()
            return Symbol(text[pos : end + 1])
        if ch.isdigit() or ch in "+-.":
            return self.number()
        if ch.isalpha() or ch == "_":
            return self.name()
        raise self.error(f"unexpected {ch!r}")

    def expect_delimiter(self) -> None:
        if self.pos < len(self.text) and self.text[self.pos] not in _DELIMITERS:
            raise self.error(f"unexpected {self.text[self.pos]!r}")

    def number(self) -> int | float:
        m = _NUMBER.match(self.text, self.pos)
        if not m:
            sign = self.text[self.pos] in "+-"
            raise self.error("operators are not supported" if sign else "malformed number")
        self.pos = m.end()
        self.expect_delimiter()
        return _number(m.group())

    def string(self, quote: str) -> str:
        text, start = self.text, self.pos
        parts = []
        pos = start + 1
        while True:
            end = text.find(quote, pos)
            if end < 0:
                raise self.error(f"unterminated string (missing {quote})", start)
            parts.append(text[pos:end])
            if text.startswith(quote, end + 1):  # doubled quote = one literal quote
                parts.append(quote)
                pos = end + 2
                continue
            self.pos = end + 1
            break
        self.expect_delimiter()
        return "".join(parts)

    def name(self) -> Any:
        m = _IDENTIFIER.match(self.text, self.pos)
        word = m.group()
        self.pos = m.end()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            return self.call(word, m.start())
        self.expect_delimiter()
        if word in ("true", "True"):
            return True
        if word in ("false", "False"):
            return False
        if word in ("Inf", "inf"):
            return float("inf")
        if word in ("NaN", "nan"):
            return float("nan")
        return Symbol(word)

    def handle(self, top: bool) -> Symbol:
        start = self.pos
        m = _IDENTIFIER.match(self.text, start + 1)
        if m:
            self.pos = m.end()
            self.expect_delimiter()
            return Symbol(self.text[start : self.pos])
        if not self.text.startswith("@(", start):
            raise self.error("'@' must be followed by a function name or '('")
        if top:
            # An anonymous function's body may contain anything; at the top level it is
            # simply the rest of the value.
            self.pos = len(self.text)
            return Symbol(self.text[start:].strip())
        depth, pos, text = 0, start + 1, self.text
        while pos < len(text):
            ch = text[pos]
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and ch in ",;":
                break  # inside a container only "," or ";" ends a body that may hold spaces
            pos += 1
        self.pos = pos
        return Symbol(text[start:pos])

    def call(self, word: str, start: int) -> Any:
        """``name(arg, ...)``: array constructors and casts are evaluated, others kept as text."""
        self.pos += 1  # "("
        args = []
        self.skip()
        if self.text.startswith(")", self.pos):
            self.pos += 1
        else:
            while True:
                self.skip()
                if self.pos >= len(self.text):
                    raise self.error("missing ')'")
                args.append(self.expression())
                self.skip()
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    continue
                if self.text.startswith(")", self.pos):
                    self.pos += 1
                    break
                raise self.error("missing ')'")
        self.expect_delimiter()
        try:
            return self.evaluate(word, args, start)
        except (ValueError, TypeError) as exc:
            raise self.error(f"{word}(...): {exc}", start) from None

    def evaluate(self, word: str, args: list[Any], start: int) -> Any:
        if word in _FILLERS or word == "cell":
            fill = [] if word == "cell" else _FILLERS[word]
            if not args:
                return fill
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 0 for a in args):
                raise ValueError("sizes must be non-negative whole numbers")
            if word == "cell":
                return _empty_cells(list(args))
            return _filled(list(args), fill)
        if word in _INT_CASTS or word in _FLOAT_CASTS or word == "logical":
            if len(args) != 1:
                raise ValueError("expected one argument")
            return _cast(word, args[0])
        if word == "struct":
            if len(args) % 2:
                raise ValueError("expected name/value pairs")
            names = args[0::2]
            if not all(isinstance(n, str) for n in names):
                raise ValueError("field names must be strings")
            return dict(zip(names, args[1::2], strict=True))
        return Symbol(self.text[start : self.pos])

    # -- matrices and cells --------------------------------------------------------------

    def brackets(self, open_: str, close: str) -> Any:
        start = self.pos
        self.pos += 1
        rows: list[list[Any]] = []
        row: list[Any] = []
        text = self.text
        while True:
            self.skip(_BLANKS)
            if self.pos >= len(text):
                raise self.error(f"missing {close!r}")
            ch = text[self.pos]
            if ch == close:
                self.pos += 1
                break
            if ch in ";\r\n":
                self.pos += 1
                if row:
                    rows.append(row)
                row = []
                continue
            if ch == ",":
                if not row:
                    raise self.error("',' without a preceding element")
                self.pos += 1
                self.skip(_BLANKS)
                if self.pos < len(text) and text[self.pos] in f",;{close}":
                    raise self.error("',' without a following element")
                continue
            if ch in "]})":
                raise self.error(f"{ch!r} does not match {open_!r}")
            element_start = self.pos
            element = self.expression()
            if open_ == "[" and text[element_start] == "[":
                # Nested matrices concatenate horizontally, as in MATLAB.
                if isinstance(element, list) and element and isinstance(element[0], list):
                    raise self.error(
                        "nested matrices with several rows are not supported", element_start
                    )
                row.extend(element if isinstance(element, list) else [element])
            else:
                row.append(element)
        if row:
            rows.append(row)
        if open_ == "[":
            rows = [_concatenate_text(r) for r in rows]
            if len(rows) == 1 and len(rows[0]) == 1:
                return rows[0][0]
        return _shape_rows(rows, text, start)


def _empty_cells(shape: list[int]) -> list:
    """``cell(m, n)``: a cell of empty matrices, each its own list (no shared objects)."""
    if len(shape) == 1:
        shape = [shape[0], shape[0]]
    if len(shape) != 2:
        raise ValueError("only 2-D shapes are supported")
    rows, cols = shape
    if rows == 0 or cols == 0:
        return []
    if rows == 1 or cols == 1:
        return [[] for _ in range(rows * cols)]
    return [[[] for _ in range(cols)] for _ in range(rows)]


def _concatenate_text(row: list[Any]) -> list[Any]:
    """``['ab' 'cd']`` is one char array in MATLAB; rows mixing text and numbers stay lists."""
    if len(row) > 1 and all(type(v) is str for v in row):
        return ["".join(row)]
    return row
