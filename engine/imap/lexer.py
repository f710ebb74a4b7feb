"""The IMAP s-expression reader: quoted strings, literals, atoms, NIL and nested lists.

Works on one complete response (``bytes``, literals inline) and never recurses, so a
hostile BODYSTRUCTURE cannot exhaust the stack; nesting is capped at ``MAX_DEPTH``.
Values: atoms ``str``, strings ``bytes``, NIL ``None``, lists ``tuple``.
"""

from __future__ import annotations

from inboxlab.engine.errors import ProtocolViolation
from inboxlab.engine.imap.model import Value

MAX_DEPTH = 100  # nesting of parenthesised lists (BODYSTRUCTURE of deep multiparts)

SP, LP, RP, DQ, BS, LB, RB, LC, RC, CR, LF, TILDE = b' ()"\\[]{}\r\n~'
ATOM_STOP = frozenset(b' ()"{]\r\n')
DIGITS = frozenset(b"0123456789")


def quoted(data: bytes, i: int) -> tuple[bytes, int]:
    """A quoted string at ``i`` (the opening quote) -> (value, offset after closing quote)."""
    j = data.find(b'"', i + 1)
    if j < 0:
        raise ProtocolViolation("unterminated quoted string", data)
    if data.find(b"\\", i + 1, j) < 0:
        if data.find(b"\n", i + 1, j) >= 0:
            raise ProtocolViolation("line break inside a quoted string", data)
        return data[i + 1 : j], j + 1
    out = bytearray()
    k = i + 1
    while True:
        c = data[k]
        if c == BS:
            out.append(data[k + 1])
            k += 2
        elif c == DQ:
            return bytes(out), k + 1
        elif c == CR or c == LF:
            raise ProtocolViolation("line break inside a quoted string", data)
        else:
            out.append(c)
            k += 1


def literal(data: bytes, i: int) -> tuple[bytes, int]:
    """A ``{n}`` / ``~{n}`` literal at ``i`` -> (its bytes, offset after them)."""
    if data[i] == TILDE:
        i += 1
    close = data.find(b"}", i)
    digits = data[i + 1 : close].rstrip(b"+")
    if close < 0 or not digits.isdigit():
        raise ProtocolViolation("malformed literal length", data)
    n = int(digits)
    i = close + 1
    if data[i] == CR:
        i += 1
    if data[i] != LF:
        raise ProtocolViolation("literal length must end the line", data)
    i += 1
    if i + n > len(data):
        raise ProtocolViolation("literal shorter than announced", data)
    return data[i : i + n], i + n


# -- generic s-expressions --------------------------------------------------------------


def values(data: bytes, i: int, *, single: bool = False) -> tuple[tuple[Value, ...], int]:
    """Values from ``i`` to the end of the line (or just one if ``single``), iteratively.

    Stops at an unmatched ``)`` (which belongs to the caller) and returns the offset.
    """
    stack: list[list[Value]] = [[]]
    n = len(data)
    while i < n:
        c = data[i]
        if c == SP:
            i += 1
            continue
        if c == CR or c == LF:
            break
        if c == LP:
            if len(stack) > MAX_DEPTH:
                raise ProtocolViolation(f"lists nested deeper than {MAX_DEPTH}", data)
            stack.append([])
            i += 1
            continue
        value: Value
        if c == RP:
            if len(stack) == 1:
                break
            value = tuple(stack.pop())
            i += 1
        elif c == DQ:
            value, i = quoted(data, i)
        elif c == LC or (c == TILDE and i + 1 < n and data[i + 1] == LC):
            value, i = literal(data, i)
        else:
            j = i
            while j < n:
                c = data[j]
                if c == LB:
                    close = data.find(b"]", j)
                    if close < 0:
                        raise ProtocolViolation("unterminated '['", data)
                    j = close + 1
                elif c in ATOM_STOP:
                    break
                else:
                    j += 1
            if j == i:
                raise ProtocolViolation(f"unexpected {chr(c)!r} at offset {i}", data)
            atom = data[i:j].decode("utf-8", "replace")
            value = None if atom.upper() == "NIL" else atom
            i = j
        stack[-1].append(value)
        if single and len(stack) == 1:
            return tuple(stack[0]), i
    if len(stack) != 1:
        raise ProtocolViolation("unbalanced parentheses", data)
    if single:
        raise ProtocolViolation("expected a value", data)
    return tuple(stack[0]), i
