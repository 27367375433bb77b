"""The digest of the code that computes a step's result, for its cache key.

A cached result made by older code must never come back after an upgrade, yet an edit to the
captions must not throw away every aligned voice. So a step's digest covers exactly the code it
can run: its own source, the helpers of its own module it calls, and every reelflow module it
reaches (the modules and functions its body names, then everything those import, found by
reading their `import` statements). Library code outside reelflow is pinned by the install,
not by this digest.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re
import types
from collections.abc import Callable, Iterable
from pathlib import Path

PACKAGE = "reelflow"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent  # the folder holding reelflow/


def code_digest(fn: Callable, *, source_root: Path | None = None) -> str:
    """Digest of `fn`'s source plus every reelflow module it can reach (16 hex digits).

    `source_root` is the folder that holds the `reelflow/` sources to read (default: the
    installed package); tests point it at an edited copy of the tree.
    """
    root = (source_root or PACKAGE_ROOT).resolve()
    sources, modules = _own_code(fn)
    h = hashlib.sha256()
    # Sorted: the walk visits helpers in set order, which changes with each process's hash
    # seed; unsorted, two workers (or two runs) gave the same code two keys.
    for text in sorted(sources):
        h.update(text.encode())
    for name in sorted(reachable_modules(modules, root=root)):
        h.update(name.encode())
        h.update(_module_file(name, root).read_bytes())
    return h.hexdigest()[:16]


def _own_code(fn: Callable) -> tuple[list[str], set[str]]:
    """Sources of `fn` and of its same-module helpers; the other reelflow modules they name."""
    home = fn.__module__
    sources: list[str] = []
    modules: set[str] = set()
    seen: set[int] = set()
    pending: list[object] = [fn]
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        sources.append(_source(obj))
        for value in _named_globals(obj):
            module = value.__name__ if isinstance(value, types.ModuleType) else None
            module = module or getattr(value, "__module__", None)
            if not module or not module.startswith(PACKAGE):
                continue
            if module == home and (inspect.isfunction(value) or inspect.isclass(value)):
                pending.append(value)  # a helper of the step's own module: follow its body
            elif module != home:
                modules.add(module)
    return sources, modules


def _named_globals(obj: object) -> Iterable[object]:
    if inspect.isclass(obj):
        for member in vars(obj).values():
            if inspect.isfunction(member):
                yield from _named_globals(member)
        return
    fn = inspect.unwrap(obj)
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    scope = fn.__globals__
    for name in _code_names(code):
        if name in scope:
            yield scope[name]


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions, lambdas, comprehensions
            names |= _code_names(const)
    return names


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return getattr(obj, "__qualname__", repr(obj))


def reachable_modules(start: Iterable[str], *, root: Path = PACKAGE_ROOT) -> set[str]:
    """`start` and every reelflow module they import, directly or not (read from the sources)."""
    found: set[str] = set()
    pending = [m for m in start if m.startswith(PACKAGE)]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        pending += [m for m in _imports(name, root) if m not in found]
    return found


# `import reelflow.x[ as y][, reelflow.z]` and `from reelflow.x import a, b` or `(a,\n b)`,
# at any indentation (lazy imports count). Scanning lines instead of parsing the module keeps a
# step's first key cheap (ast.parse of every reachable module cost ~0.3 s per process); text in
# a string that looks like an import only adds a module to the digest, never drops one.
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w. \t,]+)", re.MULTILINE)
_FROM = re.compile(
    r"^[ \t]*from[ \t]+(reelflow[\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.MULTILINE
)


@functools.lru_cache(maxsize=1024)
def _imports(module: str, root: Path) -> tuple[str, ...]:
    """The reelflow modules `module`'s source imports (packages include their __init__)."""
    text = _module_file(module, root).read_text(encoding="utf-8")
    found: list[str] = []
    for match in _IMPORT.finditer(text):
        found += [part.split()[0] for part in match.group(1).split(",") if part.strip()]
    for match in _FROM.finditer(text):
        package = match.group(1)
        found.append(package)
        # `from reelflow.engine.music import tracks` imports a module, not a name.
        names = match.group(2).split("#")[0] if "(" not in match.group(2) else match.group(2)
        for name in re.findall(r"[A-Za-z_]\w*", re.sub(r"#[^\n]*", "", names)):
            if name != "as" and _exists(f"{package}.{name}", root):
                found.append(f"{package}.{name}")
    parents = [m.rsplit(".", 1)[0] for m in found if "." in m]
    return tuple(m for m in {*found, *parents} if m.startswith(PACKAGE) and _exists(m, root))


@functools.lru_cache(maxsize=4096)
def _exists(module: str, root: Path) -> bool:
    # Read from the files only: importing a module to find it could cost seconds.
    try:
        _module_file(module, root)
    except FileNotFoundError:
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _module_file(module: str, root: Path) -> Path:
    relative = Path(*module.split("."))
    for candidate in (root / relative.with_suffix(".py"), root / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(module)
