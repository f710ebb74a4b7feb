"""A strict reader over parsed TOML: typed getters, unknown-key refusal, errors with lines.

``tomllib`` gives values but no positions, so ``KeyLines`` re-scans the source text
lightly (table headers, ``key =`` lines) to map a key path such as
``timeline[2].trigger.nth`` back to a line. It is a locator for error messages, not a
second parser: when in doubt it answers the nearest enclosing table's line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any, TypeVar

from inboxlab.fakeserver.errors import ScenarioError

Path_ = tuple[str | int, ...]
T = TypeVar("T")

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*(\.|=)""")
_INLINE_KEY = r"""(?:^|[{,\s])("?{key}"?)\s*="""


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def _split_header(text: str) -> list[str]:
    return [p.strip().strip('"').strip("'") for p in text.split(".")]


class KeyLines:
    """Maps key paths to 1-based line numbers in the TOML source."""

    def __init__(self, source: str) -> None:
        self._lines = source.splitlines()
        self._tables: list[tuple[Path_, int, int]] = []  # (path, header line, end line)
        counters: dict[Path_, int] = {}
        last_index: dict[Path_, int] = {}
        starts: list[tuple[Path_, int]] = [((), 0)]
        for number, line in enumerate(self._lines, start=1):
            match = _HEADER.match(line)
            if not match or line.lstrip().startswith("#"):
                continue
            is_array = match.group(1) == "[["
            names = _split_header(match.group(2))
            path: list[str | int] = []
            for i, name in enumerate(names):
                path.append(name)
                key = tuple(path)
                if i < len(names) - 1 and key in last_index:
                    path.append(last_index[key])
            key = tuple(path)
            full: Path_ = key
            if is_array:
                index = counters.get(key, 0)
                counters[key] = index + 1
                last_index[key] = index
                # a new element resets the counters of arrays nested under the previous one
                for other in [k for k in counters if len(k) > len(key) and k[: len(key)] == key]:
                    del counters[other]
                    last_index.pop(other, None)
                full = (*key, index)
            starts.append((full, number))
        for i, (table_path, line_no) in enumerate(starts):
            end = starts[i + 1][1] - 1 if i + 1 < len(starts) else len(self._lines)
            self._tables.append((table_path, line_no, end))

    def line_of(self, path: Path_) -> int | None:
        best: tuple[Path_, int, int] | None = None
        for table in self._tables:
            tpath = table[0]
            if len(tpath) <= len(path) and path[: len(tpath)] == tpath:
                if best is None or len(tpath) >= len(best[0]):
                    best = table
        if best is None:
            return None
        tpath, header, end = best
        rest = [p for p in path[len(tpath):] if isinstance(p, str)]
        if not rest:
            return header or None
        start = header + 1 if header else 1
        # try the deepest key first (inline tables put it on the parent's line)
        for key in (rest[-1], rest[0]):
            pattern = re.compile(_INLINE_KEY.replace("{key}", re.escape(key)))
            for number in range(start, end + 1):
                text = self._lines[number - 1]
                if text.lstrip().startswith("#"):
                    continue
                first = _KEY.match(text)
                if key == rest[0] and first and first.group(1).strip("\"'") == key:
                    return number
                if key != rest[0] and pattern.search(text.split("#", 1)[0]):
                    return number
        return header or None


class Table:
    """One TOML table being read; every key must be consumed or ``done()`` refuses it."""

    def __init__(self, data: dict[str, Any], path: Path_, ctx: Context) -> None:
        self.data = data
        self.path = path
        self.ctx = ctx
        self._seen: set[str] = set()

    def fail(self, what: str, key: str | int | None = None) -> ScenarioError:
        path = self.path if key is None else (*self.path, key)
        return self.ctx.error(path, what)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, kinds: tuple[type, ...], kind_name: str, default: Any) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                near = difflib.get_close_matches(key, [k for k in self.data if k != key], 1)
                hint = f" (is {near[0]!r} a misspelling of it?)" if near else ""
                raise self.fail(f"missing required key {key!r}{hint}", near[0] if near else None)
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(f"expected {kind_name}, got a boolean", key)
        if not isinstance(value, kinds):
            raise self.fail(f"expected {kind_name}, got {_kind(value)} {value!r}", key)
        return value

    def text(self, key: str, default: Any = None, *, choices: tuple[str, ...] = ()) -> Any:
        value = self._get(key, (str,), "a string", default)
        if choices and value is not None and value not in choices:
            raise self.fail(f"{value!r} is not one of {', '.join(choices)}", key)
        return value

    def integer(self, key: str, default: Any = None, *, minimum: int | None = None,
            maximum: int | None = None) -> Any:
        value = self._get(key, (int,), "an integer", default)
        if value is not None and minimum is not None and value < minimum:
            raise self.fail(f"must be >= {minimum}, got {value}", key)
        if value is not None and maximum is not None and value > maximum:
            raise self.fail(f"must be <= {maximum}, got {value}", key)
        return value

    def number(self, key: str, default: Any = None, *, minimum: float | None = None,
              maximum: float | None = None) -> Any:
        value = self._get(key, (int, float), "a number", default)
        if value is None:
            return None
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail("must be a finite number", key)
        if minimum is not None and value < minimum:
            raise self.fail(f"must be >= {minimum:g}, got {value:g}", key)
        if maximum is not None and value > maximum:
            raise self.fail(f"must be <= {maximum:g}, got {value:g}", key)
        return value

    def flag(self, key: str, default: Any = None) -> Any:
        return self._get(key, (bool,), "true or false", default)

    def seed(self, key: str, default: Any = None) -> Any:
        """A seed: a non-negative integer below 2**63 (a string or float is refused)."""
        value = self._get(key, (int,), "an integer seed", default)
        if value is not None and not 0 <= value < 2**63:
            raise self.fail(f"a seed must be between 0 and 2**63-1, got {value}", key)
        return value

    def texts(self, key: str, default: Any = ()) -> tuple[str, ...]:
        value = self._get(key, (list,), "an array of strings", default)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.ctx.error((*self.path, key, i), f"expected a string, got {_kind(item)}")
        return tuple(value)

    def integers(self, key: str, default: Any = ()) -> tuple[int, ...]:
        value = self._get(key, (list,), "an array of integers", default)
        for i, item in enumerate(value):
            if not isinstance(item, int) or isinstance(item, bool) or item < 1:
                raise self.ctx.error((*self.path, key, i), "expected a positive integer")
        return tuple(value)

    def table(self, key: str, *, required: bool = False) -> Table | None:
        value = self._get(key, (dict,), "a table", _REQUIRED if required else None)
        return None if value is None else Table(value, (*self.path, key), self.ctx)

    def tables(self, key: str) -> Iterator[Table]:
        value = self._get(key, (list,), "an array of tables ([[...]])", [])
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.ctx.error((*self.path, key, i), f"expected a table, got {_kind(item)}")
            yield Table(item, (*self.path, key, i), self.ctx)

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self._seen]
        if unknown:
            known = ", ".join(sorted(self._seen)) or "(none)"
            near = difflib.get_close_matches(unknown[0], sorted(self._seen), 1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise self.fail(f"unknown key {unknown[0]!r}{hint} (known here: {known})",
                            unknown[0])


class Context:
    """The file being read: its name and source, for error locations."""

    def __init__(self, file: str, source: str) -> None:
        self.file = file
        self.lines = KeyLines(source)

    def error(self, path: Path_, what: str) -> ScenarioError:
        line = self.lines.line_of(path)
        location = f"line {line}: {dotted(path)}" if line else dotted(path)
        return ScenarioError(what, file=self.file, location=location)


class _Required:
    def __repr__(self) -> str:
        return "<required>"


_REQUIRED: Any = _Required()
REQUIRED: Any = _REQUIRED


def _kind(value: object) -> str:
    return {
        str: "a string", int: "an integer", float: "a number", bool: "a boolean",
        list: "an array", dict: "a table",
    }.get(type(value), type(value).__name__)
