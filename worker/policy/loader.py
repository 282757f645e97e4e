"""Reading a policy file: TOML in, a validated ``Policy`` out, or one line naming file, line, key and rule.

tomllib reports no positions for keys, so :func:`key_lines` scans the text for table headers and
``key = value`` lines and maps each dotted key path to its line; a pydantic error's ``loc`` is mapped
back through it (the longest known prefix wins: an index inside a list points at the list's line).
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from worker.errors import UsageError
from worker.policy.inputs import Reason
from worker.policy.model import Policy

Loc = tuple[str | int, ...]

DEFAULT_POLICY = Policy()


class PolicyFileError(UsageError):
    """The policy file cannot be used; the message names the file, the line, the key and the rule."""


def load_policy(path: str | Path | None) -> Policy:
    """The policy in ``path``; ``None`` → the built-in conservative default (``DEFAULT_POLICY``)."""
    if path is None or str(path) == "":
        return DEFAULT_POLICY
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyFileError(f"policy file {file} does not exist (DROPSYNC_POLICY_FILE)") from None
    except UnicodeDecodeError:
        raise PolicyFileError(f"policy file {file} is not UTF-8 text") from None
    except OSError as exc:
        raise PolicyFileError(f"policy file {file} cannot be read: {exc.strerror}") from None
    return parse_policy(text, source=str(file))


def parse_policy(text: str, source: str = "policy.toml") -> Policy:
    """Validate policy TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(_toml_error(str(exc), source, max(len(text.splitlines()), 1))) from None
    lines = key_lines(text)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyFileError(_validation_error(exc.errors(), lines, source)) from None
    for loc, message in _contradictions(data, policy):
        raise PolicyFileError(f"{_render(loc)} {message}{_where(source, _line_of(loc, lines))}")
    return policy


def _toml_error(message: str, source: str, total_lines: int) -> str:
    match = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$", message)
    text = message if match is None else message[: match.start()]
    text = text[:1].lower() + text[1:]
    if match is None:
        return f"invalid TOML: {text} ({source})"
    if match[1] is None:
        return f"invalid TOML: {text} at the end of the file ({source} line {total_lines})"
    return f"invalid TOML: {text} ({source} line {match[1]}, column {match[2]})"


# --- key → line ----------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _split_key(text: str) -> tuple[str, ...] | None:
    """``a."b c".d`` → ``('a', 'b c', 'd')``; ``None`` when it is not a TOML key."""
    parts: list[str] = []
    i, text = 0, text.strip()
    while i < len(text):
        if text[i] in "\"'":
            end = text.find(text[i], i + 1)
            if end < 0:
                return None
            parts.append(text[i + 1 : end])
            i = end + 1
        else:
            match = _BARE_KEY.match(text, i)
            if match is None:
                return None
            parts.append(match[0])
            i = match.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text):
            if text[i] != ".":
                return None
            i += 1
            while i < len(text) and text[i] in " \t":
                i += 1
    return tuple(parts) if parts else None


def _key_end(line: str) -> int:
    """Index of the ``=`` ending a key on ``line`` (outside quotes), or -1."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "=":
            return i
    return -1


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) outside multi-line strings and arrays' continuation lines."""
    inside: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if inside is not None:
            if inside in raw:
                inside = None
            continue
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for fence in ('"""', "'''"):
            if line.count(fence) % 2 == 1:
                inside = fence
        yield number, line


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Every key path written in ``text`` (tables and their prefixes too) → the line it starts on."""
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, line in _logical_lines(text):
        if line.startswith("["):
            inner = line.lstrip("[").split("]", 1)[0]
            table = _split_key(inner) or ()
            path = table
        else:
            end = _key_end(line)
            key = _split_key(line[:end]) if end > 0 else None
            if key is None:
                continue
            path = table + key
        for size in range(1, len(path) + 1):
            found.setdefault(path[:size], number)
    return found


def _line_of(loc: Loc, lines: dict[tuple[str, ...], int]) -> int | None:
    keys = tuple(str(part) for part in loc if isinstance(part, str))
    for size in range(len(keys), 0, -1):
        if keys[:size] in lines:
            return lines[keys[:size]]
    return None


def _where(source: str, line: int | None) -> str:
    return f" ({source} line {line})" if line is not None else f" ({source})"


# --- pydantic error → one sentence ---------------------------------------------------------------


def _render(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else f'"{part}"'
            text += f".{key}" if text else key
    return text or "the file"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None``."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return annotation


def _resolve(loc: Loc) -> tuple[Loc, Any, type[BaseModel] | None]:
    """The part of ``loc`` that names keys in the file (union tags dropped), the leaf's annotation,
    and the model whose keys are expected at the leaf's parent (for unknown keys)."""
    model: type[BaseModel] | None = Policy
    annotation: Any = Policy
    path: list[str | int] = []
    parent: type[BaseModel] | None = Policy
    for part in loc:
        parent = model
        if model is not None:
            field = model.model_fields.get(str(part))
            if field is None:
                path.append(part)
                return tuple(path), None, model
            annotation = _unwrap(field.annotation)
        else:
            origin = typing.get_origin(annotation)
            args = typing.get_args(annotation)
            if origin is dict and isinstance(part, str):
                annotation = _unwrap(args[1])
            elif origin in (tuple, list) and isinstance(part, int):
                annotation = _unwrap(args[0])
            else:
                break  # a union member's tag: not a key of the file
        path.append(part)
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return tuple(path), annotation, parent


def _choices(annotation: Any) -> list[str]:
    """What a value of ``annotation`` may be, one phrase per alternative."""
    annotation = _unwrap(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [c for a in typing.get_args(annotation) if a is not type(None) for c in _choices(a)]
    if origin is typing.Literal:
        return [_show(v) for v in typing.get_args(annotation)]
    if annotation is bool:
        return ["true", "false"]
    if origin in (tuple, list):
        return [f"a list of {_expected(typing.get_args(annotation)[0])}"]
    if origin is dict or (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return ["a table"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ["one of " + ", ".join(str(m.value) for m in annotation)]
    words = {int: "a whole number", Decimal: "a number", str: "text in quotes"}
    return [words.get(annotation, "a valid value")]


def _expected(annotation: Any) -> str:
    choices = _choices(annotation)
    return choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"


_BOUNDS = {"greater_than_equal": ("ge", "≥"), "less_than_equal": ("le", "≤"), "greater_than": ("gt", ">")}


def _sentence(error: ErrorDetails) -> tuple[Loc, str]:
    path, annotation, parent = _resolve(tuple(error["loc"]))
    given = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        return path, _unknown_key(path, parent)
    if kind == "missing":
        return path, f"{_render(path)} is required"
    if kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        return path, f"{_render(path)} must be {sign} {error.get('ctx', {}).get(name)}, got {_show(given)}"
    if kind == "value_error":
        return path, f"{_render(path)}: {str(error['msg']).removeprefix('Value error, ')}"
    if _unwrap(annotation) is Reason and isinstance(given, str):
        return path, f"{_render(path)}: unknown reason {_show(given)} (reasons: {_reason_names()})"
    return path, f"{_render(path)} must be {_expected(annotation)}, got {_show(given)}"


def _reason_names() -> str:
    return ", ".join(r.value for r in Reason)


def _unknown_key(path: Loc, parent: type[BaseModel] | None) -> str:
    key = str(path[-1])
    where = _render(path[:-1])
    if path[:-1] == ("returns", "reasons"):
        return f"unknown reason {_show(key)} in [returns.reasons] (reasons: {_reason_names()})"
    known = ", ".join(parent.model_fields) if parent is not None else ""
    table = f"[{where}]" if path[:-1] else "the top level"
    return f"unknown key {_render(path)}: {table} accepts {known}"


def _validation_error(errors: Sequence[ErrorDetails], lines: dict[tuple[str, ...], int], source: str) -> str:
    described: dict[Loc, tuple[int | None, str]] = {}
    for error in errors:
        path, sentence = _sentence(error)
        described.setdefault(path, (_line_of(path, lines), sentence))
    # Read top to bottom: the first problem in the file is the one reported.
    ordered = sorted(described.values(), key=lambda item: (item[0] is None, item[0] or 0))
    line, sentence = ordered[0]
    more = len(ordered) - 1
    tail = f"; {more} more problem{'s' if more > 1 else ''} after it" if more else ""
    return f"{sentence}{_where(source, line)}{tail}"


def _contradictions(data: dict[str, Any], policy: Policy) -> Iterator[tuple[Loc, str]]:
    """Rules that validate one by one but contradict each other."""
    returns = policy.returns
    written = data.get("returns", {}).get("reasons", {})
    if returns.all_sales_final:
        for reason in Reason:
            rule = written.get(reason.value, {})
            if rule.get("accepted") is True and reason not in returns.final_sale_except:
                yield (
                    ("returns", "reasons", reason.value, "accepted"),
                    "is true, but returns.all_sales_final makes every sale final except "
                    + (", ".join(r.value for r in returns.final_sale_except) or "nothing")
                    + f": add {reason.value!r} to returns.final_sale_except or remove this line",
                )
