"""The code a node runs, as one digest: its function's source and that of the project code it reaches.

Starting from the node's function, every name its code object (and the code objects nested
in it: comprehensions, inner functions, lambdas) loads is looked up in the function's globals
and closure. What it finds counts as follows:

- a function or class of the project's packages (``neural_pipelines`` by default): its source,
  and, recursively, whatever *its* code names;
- a module of the project: the members whose names the code also loads (``steps.build_model``
  loads ``steps`` and ``build_model``), so a change elsewhere in that module does not count;
- library code (numpy, keras …): the installed distribution's version, not its source;
- plain values (numbers, strings, containers of them, e.g. the ``ARCHITECTURES`` registry of
  builders): their value, and any function or class inside them as above.

Over-approximation is the safe direction: a name that matches an unrelated member of a
project module adds that member, which can only cause a rerun, never a skip. What it cannot
see is code reached through a value computed at run time (``getattr(module, name_from_config)``,
a method of an object whose class the code never names); docs/incremental.md lists these limits.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import sys
import types
from collections.abc import Iterable, Iterator
from importlib import metadata
from typing import Any

#: Packages whose code is fingerprinted by source; everything else by its distribution's version.
PROJECT_PACKAGES = ("neural_pipelines",)

#: Values that count by their ``repr``.
PLAIN = (bool, int, float, complex, str, bytes, type(None))


class NotFingerprintable(Exception):
    """A node's code, parameters or inputs cannot be fingerprinted soundly: the node must run."""


@functools.cache
def _distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


@functools.cache
def library_token(top_module: str) -> str:
    """``numpy==2.3.1``: the version of what provides ``top_module`` (``python==3.11`` for the standard library)."""
    if top_module in sys.stdlib_module_names or top_module == "builtins":
        return f"python=={sys.version_info.major}.{sys.version_info.minor}"
    names = _distributions().get(top_module) or []
    versions = []
    for name in sorted(set(names)):
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(name)
    return ",".join(versions) or top_module


def _module_name(obj: Any) -> str:
    if inspect.ismodule(obj):
        return obj.__name__
    return getattr(obj, "__module__", None) or type(obj).__module__ or ""


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _loaded_names(code: types.CodeType) -> set[str]:
    return {name for item in _code_objects(code) for name in (*item.co_names, *item.co_freevars)}


class CodeFingerprint:
    """Digests of functions, memoized for one run; ``packages`` are the project's (fingerprinted by source)."""

    def __init__(self, packages: Iterable[str] = PROJECT_PACKAGES) -> None:
        self._packages = tuple(packages)
        self._cache: dict[int, str] = {}

    def is_project(self, obj: Any) -> bool:
        module = _module_name(obj)
        return any(module == package or module.startswith(f"{package}.") for package in self._packages)

    def digest(self, func: Any) -> str:
        """The digest of a node's function (a plain function, a ``functools.partial``, a bound method or a callable object)."""
        key = id(func)
        if key not in self._cache:
            tokens: dict[str, None] = {}
            self._visit(func, tokens, seen=set(), always_source=True)
            self._cache[key] = hashlib.sha256("\n".join(sorted(tokens)).encode()).hexdigest()
        return self._cache[key]

    def _visit(self, obj: Any, tokens: dict[str, None], seen: set[int], always_source: bool = False) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, functools.partial):
            tokens[f"partial {self._value(obj.args, tokens, seen)} {self._value(obj.keywords, tokens, seen)}"] = None
            self._visit(obj.func, tokens, seen, always_source)
            return
        if inspect.ismethod(obj):
            tokens[f"bound to {self._value(obj.__self__, tokens, seen)}"] = None
            self._visit(obj.__func__, tokens, seen, always_source)
            return
        obj = inspect.unwrap(obj) if callable(obj) else obj
        if not (always_source or self.is_project(obj)):
            tokens[f"lib {library_token(_module_name(obj).split('.')[0])}"] = None
            return
        if inspect.isfunction(obj):
            self._function(obj, tokens, seen)
        elif inspect.isclass(obj):
            self._class(obj, tokens, seen)
        elif callable(obj):  # a callable object of a project class: its class, and its state by value
            self._visit(type(obj), tokens, seen, always_source=True)
            tokens[f"state {self._value(vars(obj), tokens, seen)}"] = None
        else:
            raise NotFingerprintable(f"{obj!r} is not a function")

    def _function(self, func: types.FunctionType, tokens: dict[str, None], seen: set[int]) -> None:
        tokens[f"function {func.__module__}.{func.__qualname__}\n{_source(func)}"] = None
        names = _loaded_names(func.__code__)
        closure = inspect.getclosurevars(func).nonlocals
        scope = {**func.__globals__, **closure}
        for default in (*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()):
            tokens[f"default of {func.__qualname__}: {self._value(default, tokens, seen)}"] = None
        self._names(names, scope, f"{func.__module__}.{func.__qualname__}", tokens, seen)

    def _class(self, cls: type, tokens: dict[str, None], seen: set[int]) -> None:
        tokens[f"class {cls.__module__}.{cls.__qualname__}\n{_source(cls)}"] = None
        names: set[str] = set()
        for member in vars(cls).values():
            function = getattr(member, "__func__", member)  # staticmethod / classmethod
            if inspect.isfunction(function):
                names |= _loaded_names(function.__code__)
        names |= {base.__name__ for base in cls.__bases__}
        scope = {**vars(sys.modules[cls.__module__]), **{base.__name__: base for base in cls.__bases__}}
        self._names(names, scope, f"{cls.__module__}.{cls.__qualname__}", tokens, seen)

    def _names(self, names: set[str], scope: dict[str, Any], owner: str, tokens: dict[str, None], seen: set[int]) -> None:
        for name in sorted(names):
            if name not in scope:
                continue  # an attribute, a local or a builtin: attributes of project modules are handled below
            value = scope[name]
            if inspect.ismodule(value):
                if self.is_project(value):  # only the members this code names
                    for member in sorted(names & set(vars(value))):
                        member_value = vars(value)[member]
                        if not inspect.ismodule(member_value):
                            tokens[f"{owner}: {name}.{member} = {self._value(member_value, tokens, seen)}"] = None
                else:
                    tokens[f"lib {library_token(value.__name__.split('.')[0])}"] = None
            else:
                tokens[f"{owner}: {name} = {self._value(value, tokens, seen)}"] = None

    def _value(self, value: Any, tokens: dict[str, None], seen: set[int]) -> str:
        """A stable description of a value a function uses; functions and classes in it are visited."""
        if isinstance(value, PLAIN):
            return repr(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = [self._value(item, tokens, seen) for item in value]
            return f"{type(value).__name__}[{', '.join(sorted(items) if isinstance(value, (set, frozenset)) else items)}]"
        if isinstance(value, dict):
            items = [f"{self._value(key, tokens, seen)}: {self._value(item, tokens, seen)}" for key, item in value.items()]
            return "{" + ", ".join(items) + "}"
        if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismethod(value) or isinstance(value, functools.partial):
            self._visit(value, tokens, seen)
            return f"<{_module_name(value)}.{getattr(value, '__qualname__', type(value).__qualname__)}>"
        if isinstance(value, logging.Logger):  # its repr shows the level the logging configuration set, not code
            return f"<logger {value.name}>"
        # any other object: its class, and its repr where that does not hold a memory address
        self._visit(type(value), tokens, seen)
        text = repr(value)
        return f"<{type(value).__qualname__}>" if " at 0x" in text else text


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError) as err:
        code = getattr(obj, "__code__", None)
        if code is None:
            raise NotFingerprintable(f"no source for {obj!r}: {err}") from err
        return "\n".join(repr((item.co_code, item.co_consts, item.co_names)) for item in _code_objects(code))
