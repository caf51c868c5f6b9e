"""Argument type checks: a wrong type is a ValueError naming the argument, not a jsii error.

jsii reports a ``str`` where a number belongs as a JavaScript serialization error deep
inside aws-cdk-lib, and a comparison in a validator raises ``TypeError``. The public
constructors are wrapped with :func:`checked_arguments`, which compares each argument
with its annotation before anything is built.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from aws_cdk import Token

__all__ = ["argument_type_errors", "checked_arguments"]

_P = ParamSpec("_P")
_R = TypeVar("_R")
_SEQUENCES = (collections.abc.Sequence, list, tuple)
_MAPPINGS = (collections.abc.Mapping, dict)
# Values that no jsii interface (an IVpc, an IGrantable...) can ever be.
_PLAIN_VALUES = (str, bytes, int, float, bool, list, tuple, dict, set, frozenset)


@typing.overload
def checked_arguments(function: Callable[_P, _R]) -> Callable[_P, _R]: ...


@typing.overload
def checked_arguments(
    *, skip: tuple[str, ...] = ()
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def checked_arguments(
    function: Callable[_P, _R] | None = None, *, skip: tuple[str, ...] = ()
) -> Any:
    """Check every argument of ``function`` against its annotation before it runs.

    Use as ``@checked_arguments`` or ``@checked_arguments(skip=("secrets",))`` for
    arguments whose own validator gives a more precise message.

    Raises:
        ValueError: listing every argument whose value does not match its
            annotation, with the value and the annotation.
    """

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            bound = signature.bind_partial(*args, **kwargs)
            arguments = {k: v for k, v in bound.arguments.items() if k not in skip}
            errors = argument_type_errors(function, arguments)
            if errors:
                raise ValueError("; ".join(errors))
            return function(*args, **kwargs)

        return wrapper

    return decorate(function) if function is not None else decorate


def argument_type_errors(function: Callable[..., Any], arguments: Mapping[str, Any]) -> list[str]:
    """``name must be <annotation>, got <value>`` for each argument that does not match.

    A mismatch inside a sequence or mapping names the element (``environments[1]``,
    ``fair_share['teamA']``) and what it must be.
    """
    hints = _hints(function)
    annotations: Mapping[str, Any] = function.__annotations__
    errors = []
    for name, value in arguments.items():
        hint = hints.get(name)
        if hint is None or name in ("self", "cls"):
            continue
        if _matches(value, hint) is not False:
            continue
        path, inner_value, inner_hint = _first_mismatch(name, value, hint)
        shown = annotations.get(name, hint) if path == name else _describe(inner_hint)
        errors.append(f"{path} must be {shown}, got {inner_value!r} ({type(inner_value).__name__})")
    return errors


def _first_mismatch(path: str, value: Any, hint: Any) -> tuple[str, Any, Any]:
    """The innermost element that makes ``value`` miss ``hint`` (itself if none inside)."""
    hint = _shaped_like(value, hint)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    fixed_tuple = origin is tuple and bool(args) and args[-1] is not Ellipsis
    if (
        origin in _SEQUENCES
        and args
        and not fixed_tuple
        and isinstance(value, collections.abc.Sequence)
        and not isinstance(value, str | bytes)
    ):
        for index, item in enumerate(value):
            if _matches(item, args[0]) is False:
                return _first_mismatch(f"{path}[{index}]", item, args[0])
    if origin in _MAPPINGS and len(args) == 2 and isinstance(value, collections.abc.Mapping):
        for key, item in value.items():
            if _matches(key, args[0]) is False:
                return f"{path} keys", key, args[0]
            if _matches(item, args[1]) is False:
                return _first_mismatch(f"{path}[{key!r}]", item, args[1])
    return path, value, hint


def _shaped_like(value: Any, hint: Any) -> Any:
    """The one alternative of a union shaped like the value (a mapping for a dict...).

    ``fair_share: bool | Mapping[str, float] | None`` given ``{"a": "1"}`` is judged
    as a ``Mapping[str, float]``, so the message can name ``fair_share['a']``.
    """
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    alternatives = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(value, collections.abc.Mapping):
        shaped = [a for a in alternatives if typing.get_origin(a) in _MAPPINGS]
    elif isinstance(value, collections.abc.Sequence) and not isinstance(value, str | bytes):
        shaped = [a for a in alternatives if typing.get_origin(a) in _SEQUENCES]
    else:
        shaped = alternatives
    return shaped[0] if len(shaped) == 1 else hint


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


@functools.cache
def _hints_cached(function: Callable[..., Any]) -> Mapping[str, Any]:
    return typing.get_type_hints(function)


def _hints(function: Callable[..., Any]) -> Mapping[str, Any]:
    return _hints_cached(inspect.unwrap(function))


def _matches(value: Any, hint: Any) -> bool | None:
    """True or False when the value does or does not match; None when it cannot be told."""
    if hint is Any or isinstance(hint, TypeVar):
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        results = [_matches(value, arg) for arg in args]
        if any(r is True for r in results):
            return True
        return None if any(r is None for r in results) else False
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return hint is float or isinstance(value, int) or Token.is_unresolved(value)
    if hint is str:
        return isinstance(value, str)
    if origin in _SEQUENCES:
        if isinstance(value, str | bytes) or not isinstance(value, collections.abc.Sequence):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and _all(map(_matches, value, args))
        return _all(_matches(item, args[0]) for item in value) if args else True
    if origin in _MAPPINGS:
        if not isinstance(value, collections.abc.Mapping):
            return False
        if not args:
            return True
        return _all(_both(_matches(k, args[0]), _matches(v, args[1])) for k, v in value.items())
    if isinstance(hint, type):
        if getattr(hint, "_is_protocol", False):
            # jsii interfaces are protocols that isinstance cannot check: only rule out
            # values that can never implement one.
            return False if isinstance(value, _PLAIN_VALUES) or value is None else None
        return isinstance(value, hint)
    return None


def _all(results: collections.abc.Iterable[bool | None]) -> bool | None:
    outcome: bool | None = True
    for result in results:
        if result is False:
            return False
        if result is None:
            outcome = None
    return outcome


def _both(first: bool | None, second: bool | None) -> bool | None:
    return _all((first, second))
