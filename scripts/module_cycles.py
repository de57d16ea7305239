#!/usr/bin/env python3
"""Print the import cycles among the modules of `metricchat-core/src`.

Usage: python3 scripts/module_cycles.py [--tests] [--check] [SRC_DIR]

Every `.rs` file is one module (`context/mod.rs` is `context`, `llm/http.rs` is `llm::http`).
An edge A -> B means A names `crate::B…` or `super::…` (in a `use` line, nested `{…}` groups
included, or in an inline path such as `crate::context::words(x)`). Comments are skipped, and so
is everything after a file's `#[cfg(test)]` module unless `--tests` is given.

Two views are printed, since a parent `mod.rs` re-exporting its children is not a cycle worth
reporting:
  * top level: modules collapsed to their first segment (`llm::http` -> `llm`), edges inside one
    top-level module ignored;
  * siblings: inside each folder module, edges between its child files (the parent `mod.rs`
    left out).
Each view lists every elementary cycle, shortest first, and each edge of a cycle is explained by
the files and paths that make it. Exit status is 0, or with `--check` (CI) 1 when any cycle is
found.
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

USE_RE = re.compile(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]*);", re.S)
INLINE_RE = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
TEST_MOD_RE = re.compile(r"^#\[cfg\(test\)\]\s*\n\s*mod\s+\w+", re.M)


def module_of(src: Path, path: Path) -> tuple:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts.pop()
    return tuple(parts)


def strip_comments(text: str) -> str:
    # Line comments (incl. doc comments) and block comments; strings are rare enough in paths.
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def expand_use(tree: str) -> list:
    """Expand `a::{b, c::{d}}` into ['a::b', 'a::c::d']."""
    tree = re.sub(r"\s+", "", tree)
    out = []

    def walk(prefix: str, s: str) -> None:
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for item in filter(None, items):
            brace = item.find("{")
            if brace >= 0 and item.endswith("}"):
                walk(prefix + item[:brace], item[brace + 1 : -1])
            else:
                out.append(prefix + item.split(" as ")[0])

    walk("", tree)
    return out


def resolve(path: str, here: tuple, modules: set):
    """The longest known module that `path` (a `crate::`/`super::`/`self::` path) names."""
    segs = [s for s in path.split("::") if s]
    if not segs or segs[0] not in ("crate", "super", "self"):
        return None
    base = here
    if segs[0] == "crate":
        base, segs = (), segs[1:]
    while segs and segs[0] in ("super", "self"):
        if segs[0] == "super":
            base = base[:-1]
        segs = segs[1:]
    best = base if base in modules else None
    cur = base
    for s in segs:
        cur = cur + (s,)
        if cur not in modules:
            break
        best = cur
    return best


def edges(src: Path, include_tests: bool, why: dict = None) -> dict:
    """The module graph; `why`, when given, collects (file, path) per edge."""
    files = sorted(src.rglob("*.rs"))
    modules = {module_of(src, f) for f in files}
    graph = defaultdict(set)
    for f in files:
        here = module_of(src, f)
        text = f.read_text(encoding="utf-8")
        if not include_tests:
            m = TEST_MOD_RE.search(text)
            if m:
                text = text[: m.start()]
        text = strip_comments(text)
        paths = []
        for m in USE_RE.finditer(text):
            paths += expand_use(m.group(1))
        for m in INLINE_RE.finditer(text):
            paths.append(m.group(1) + m.group(2))
        for p in paths:
            target = resolve(p, here, modules)
            if target is not None and target != here and target != ():
                graph[here].add(target)
                if why is not None:
                    why.setdefault((here, target), []).append((f.relative_to(src), p))
    return graph


def cycles(graph: dict) -> list:
    """All elementary cycles (Johnson-style DFS; the graphs here are tiny)."""
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})
    index = {n: i for i, n in enumerate(nodes)}
    found = []

    def dfs(start, node, path, on_path):
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.append(list(path))
            elif index[nxt] > index[start] and nxt not in on_path:
                on_path.add(nxt)
                path.append(nxt)
                dfs(start, nxt, path, on_path)
                path.pop()
                on_path.discard(nxt)

    for n in nodes:
        dfs(n, n, [n], {n})
    return sorted(found, key=lambda c: (len(c), c))


def fmt(cycle: list) -> str:
    names = ["::".join(m) for m in cycle]
    return " -> ".join(names + [names[0]])


def explain(found: list, why: dict, same) -> None:
    """Prints, for each edge of the 2-cycles found, the files and paths that make it."""
    pairs = {(c[0], c[1]) for c in found if len(c) == 2} | {(c[1], c[0]) for c in found if len(c) == 2}
    for a, b in sorted(pairs):
        print(f"    {'::'.join(a)} -> {'::'.join(b)} because:")
        for (x, y), uses in sorted(why.items()):
            if same(x, a) and same(y, b):
                for f, p in uses[:5]:
                    print(f"      {f}: {p}")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    include_tests = "--tests" in sys.argv
    src = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "metricchat-core/src"
    why = {}
    graph = edges(src, include_tests, why)
    total = 0

    top = defaultdict(set)
    for a, ts in graph.items():
        for b in ts:
            if a and b and a[0] != b[0]:
                top[(a[0],)].add((b[0],))
    print("top-level module cycles:")
    found = cycles(top)
    total += len(found)
    for c in found:
        print("  " + fmt(c))
    if not found:
        print("  (none)")
    explain(found, why, lambda a, b: a[:1] == b[:1])

    sib = defaultdict(set)
    for a, ts in graph.items():
        for b in ts:
            if len(a) >= 2 and len(b) >= 2 and a[:-1] == b[:-1]:
                sib[a].add(b)
    print("sibling-file cycles inside folder modules:")
    found = cycles(sib)
    total += len(found)
    for c in found:
        print("  " + fmt(c))
    if not found:
        print("  (none)")
    explain(found, why, lambda a, b: a == b)
    if "--check" in sys.argv and total:
        print(f"{total} import cycle(s): see above", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
