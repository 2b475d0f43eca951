"""Settings of datasets and parameters of methods, typed by what they declare.

A dataset's settings are its ``load`` function's keyword-only parameters; a method's parameters are its config
dataclass's fields (or its factory's keyword-only parameters). Each declares a default and an annotation, and the
annotation says what a value may be::

    projection: Literal["d2s", "wpp", "pp"] = "d2s"          # one of a fixed set
    visibility: Annotated[str, OneOf(VISIBILITY)] = "strict"  # the same, from a tuple the module already has
    iterations: PositiveInt = 20000                           # an int >= 1 (Annotated[int, Range(min=1)])
    views: tuple[str, ...] | None = None                      # names; on the command line joined by '+'

A value is typed by that annotation (:meth:`Setting.coerce`): text from a spec (``panoptic[views=00_16]``) becomes
the declared type (``('00_16',)``; never the integer 16 that ``int('00_16')`` would give), a TOML value is checked
against it, and anything else is a ConfigError naming the owner, the setting, the value and what it may be, raised
before anything is built or written. A setting without an annotation the module can resolve is typed by its
default's type (bool, int, float, text) and is otherwise passed on as it is. ``hmrbench list`` shows each setting
with its choices or range (:meth:`Setting.describe`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from bench.errors import ConfigError

__all__ = [
    "Hint",
    "NonNegativeFloat",
    "NonNegativeInt",
    "OneOf",
    "PositiveFloat",
    "PositiveInt",
    "Range",
    "Setting",
    "UnitFloat",
    "declared_settings",
    "describe_settings",
    "guess_value",
    "typed_settings",
]

LIST_SEPARATOR = "+"  # several values in one spec item: panoptic[views=00_16+00_30]
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)
_NONE_TEXT = ("none", "null")


@dataclass(frozen=True)
class Range:
    """A numeric setting's bounds (``Annotated[int, Range(min=1)]``); ``open_min``: the minimum itself excluded."""

    min: float | None = None
    max: float | None = None
    open_min: bool = False
    open_max: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, float) and not math.isfinite(value):
            return f"a finite number {self}"
        low = self.min is not None and (value <= self.min if self.open_min else value < self.min)
        high = self.max is not None and (value >= self.max if self.open_max else value > self.max)
        return str(self) if low or high else None

    def __str__(self) -> str:
        lo = None if self.min is None else f"{'>' if self.open_min else '>='} {self.min:g}"
        if self.max is None:
            return lo or "any number"
        if lo is None:
            return f"{'<' if self.open_max else '<='} {self.max:g}"
        return f"in {'(' if self.open_min else '['}{self.min:g}, {self.max:g}{')' if self.open_max else ']'}"


@dataclass(frozen=True)
class OneOf:
    """A text setting's allowed values (``Annotated[str, OneOf(VISIBILITY)]``), kept in the module's own tuple."""

    values: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        return None if value in self.values else f"one of {'|'.join(map(str, self.values))}"

    def __str__(self) -> str:
        return "|".join(map(str, self.values))


@dataclass(frozen=True)
class Hint:
    """What a setting may be, in words, where its type cannot say it (``Annotated[str | int, Hint("all|N|...")]``):
    shown by ``hmrbench list``; the value is checked by the type and by the owner."""

    text: str

    def problem(self, value: Any) -> str | None:
        return None

    def __str__(self) -> str:
        return self.text


PositiveInt = Annotated[int, Range(min=1)]
NonNegativeInt = Annotated[int, Range(min=0)]
PositiveFloat = Annotated[float, Range(min=0, open_min=True)]
NonNegativeFloat = Annotated[float, Range(min=0)]
UnitFloat = Annotated[float, Range(min=0, max=1)]


def guess_value(text: str) -> Any:
    """An undeclared setting's text as a value: true/false, an integer or a number written plainly, else the text
    itself. Only exact forms count (``00_16`` and ``1_000`` stay text), so nothing the user wrote is lost."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT.fullmatch(text) and str(int(text)) == text.lstrip("+"):
        return int(text)
    if _FLOAT.fullmatch(text) and not _INT.fullmatch(text):
        return float(text)
    return text


class _Mismatch(Exception):
    """The value does not fit the annotation; the argument says what would."""


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` (text from a spec, or a typed value from TOML / Python) as annotation ``tp``, or _Mismatch."""
    text = isinstance(value, str)
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        out = _coerce(value, base)
        for m in meta:
            problem = m.problem(out) if hasattr(m, "problem") else None
            if problem:
                raise _Mismatch(problem)
        return out
    if tp is Any or tp is inspect.Parameter.empty:
        return guess_value(value) if text else value
    if origin in (Union, types.UnionType):
        members = typing.get_args(tp)
        if type(None) in members and (value is None or (text and value.lower() in _NONE_TEXT)):
            return None
        # non-text members first: 'sequences: str | int' reads '3' as the count 3, 'Counting' as a name
        ordered = sorted((m for m in members if m is not type(None)), key=lambda m: m is str)
        wants = []
        for member in ordered:
            try:
                return _coerce(value, member)
            except _Mismatch as exc:
                wants.append(str(exc))
        raise _Mismatch(" or ".join(dict.fromkeys(wants)) + (" or none" if type(None) in members else ""))
    if origin is Literal:
        for choice in typing.get_args(tp):
            if value == choice and type(value) is type(choice) or (text and value == str(choice)):
                return choice
        raise _Mismatch(f"one of {'|'.join(map(str, typing.get_args(tp)))}")
    if origin in (tuple, list) or tp in (tuple, list):
        args = typing.get_args(tp)
        item = args[0] if args and (len(args) == 1 or args[1] is Ellipsis) else Any
        items = value.split(LIST_SEPARATOR) if text else value
        if not isinstance(items, list | tuple) or not items:
            raise _Mismatch(f"a non-empty list (on the command line: values joined by '{LIST_SEPARATOR}')")
        try:
            out = [_coerce(v, item) for v in items]
        except _Mismatch as exc:
            raise _Mismatch(f"a list of {exc}") from None
        return tuple(out) if (origin or tp) is tuple else out
    if tp is bool:
        if isinstance(value, bool):
            return value
        if text and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _Mismatch("bool")
    if tp is int:
        if text and _INT.fullmatch(value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch("int")
    if tp is float:
        if text and _FLOAT.fullmatch(value):
            return float(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch("float")
    if tp is str:
        if text:
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):  # TOML: name = 3
            return str(value)
        raise _Mismatch("str")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch(tp.__name__)
    return guess_value(value) if text else value  # an annotation this module does not read: passed on


def _from_default(default: Any) -> Any:
    """The annotation a setting without a resolvable one gets: its default's type where that says enough."""
    for tp in (bool, int, float, str):
        if type(default) is tp:
            return tp
    return Any


def _describe_type(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        hints = [str(m) for m in meta if isinstance(m, OneOf | Range | Hint)]
        return hints[0] if hints else _describe_type(base)
    if origin is Literal:
        return "|".join(map(str, typing.get_args(tp)))
    if origin in (Union, types.UnionType):
        parts = [_describe_type(m) for m in typing.get_args(tp) if m is not type(None)]
        return " or ".join(p for p in parts if p)
    if origin in (tuple, list):
        return f"names joined by '{LIST_SEPARATOR}'"
    return ""


@dataclass(frozen=True)
class Setting:
    """One declared setting: its name, default and annotation (resolved; :data:`typing.Any` when unknown)."""

    name: str
    default: Any
    annotation: Any = Any

    def coerce(self, owner: str, value: Any) -> Any:
        """``value`` typed as declared, or a ConfigError: ``owner: name=value: expected ... (default ...)``."""
        try:
            return _coerce(value, self.annotation)
        except _Mismatch as exc:
            raise ConfigError(f"{owner}: {self.name}={value!r}: expected {exc} (default {self.default!r})") from None

    def choices(self) -> str:
        """What the value may be, in a few words ('d2s|wpp|pp', '>= 1'), or '' when the type says nothing more."""
        return _describe_type(self.annotation)

    def describe(self) -> str:
        """``name=default`` with the choices or range in parentheses (``projection='d2s' (d2s|wpp|pp)``)."""
        text = repr(self.default)
        if isinstance(self.default, tuple | list) and len(text) > 60:
            text = f"<{len(self.default)} entries>"
        hint = self.choices()
        return f"{self.name}={text}" + (f" ({hint})" if hint else "")


def _hints(obj: Any) -> dict[str, Any]:
    target = obj.__init__ if isinstance(obj, type) and not dataclasses.is_dataclass(obj) else obj
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - an annotation naming something not importable at run time: use defaults
        return {}


def declared_settings(obj: Callable[..., Any] | type) -> dict[str, Setting]:
    """The settings ``obj`` declares: a dataclass's fields, else a callable's (or class's) keyword-only
    parameters; each with its default and resolved annotation (from the default's type where none resolves)."""
    hints = _hints(obj)
    if dataclasses.is_dataclass(obj):
        pairs = [(f.name, f.default) for f in dataclasses.fields(obj)]
    else:
        params = inspect.signature(obj).parameters.values()
        pairs = [(p.name, p.default) for p in params if p.kind is p.KEYWORD_ONLY]
    return {name: Setting(name, default, hints.get(name, _from_default(default))) for name, default in pairs}


def typed_settings(
    owner: str, declared: dict[str, Setting], values: dict[str, Any], *, noun: str = "setting"
) -> dict[str, Any]:
    """``values`` typed by ``declared`` (:meth:`Setting.coerce`); an unknown name is a ConfigError listing the
    valid ones with their choices (``noun``: what they are called, 'setting' or 'parameter')."""
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ConfigError(f"{owner}: unknown {noun}(s) {unknown}; valid {noun}s: {describe_settings(declared)}")
    return {key: declared[key].coerce(owner, value) for key, value in values.items()}


def describe_settings(declared: dict[str, Setting]) -> str:
    """Every setting as ``name=default (choices)``, comma-separated ('none' when there is none)."""
    return ", ".join(s.describe() for s in declared.values()) or "none"
