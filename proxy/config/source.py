"""Reading the config file: YAML text -> plain Python values, with the size of the result
bounded before anything is built from it.

YAML aliases share nodes, so a 517-byte file can describe a tree of billions of nodes (the
"billion laughs"); nothing here expands it, but any later walk or repr() would (issue 16,
item 12). The composed node graph is measured as if expanded, once per distinct node, and
refused over MAX_NODES before a single Python object is constructed.
"""

from __future__ import annotations

from typing import Any

import yaml

from proxy.config.values import ConfigError

MAX_NODES = 100_000  # far above any real routing table (a few hundred nodes)
# libyaml's parser where installed (PyYAML wheels ship it): the pure-Python one takes
# seconds to compose a file near MAX_NODES.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ALIASES = 1_000  # anchors are for sharing a breaker block, not for building structures


def read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text") from None


def load_yaml(text: str, source: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, source, MAX_NODES)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # `from None`: the parser's message quotes the offending text, which may be long.
        raise ConfigError(f"{source}: invalid YAML{where}") from None
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, source: str, limit: int) -> None:
    """The expanded node count, computed once per distinct node (iteratively: a deep
    document must not hit the recursion limit either)."""
    sizes: dict[int, int] = {}
    seen = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes and not children_done:
            seen += 1  # a node met again is an alias use
            if seen > MAX_ALIASES:
                raise ConfigError(f"{source}: more than {MAX_ALIASES} YAML alias uses")
            continue
        children = _children(node)
        if not children_done and children:
            sizes[key] = 0  # mark as in progress; cycles need no special case (see below)
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        if total > limit:
            raise ConfigError(f"{source}: the YAML expands to more than {limit} values")
        sizes[key] = total


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
