"""Reading YAML that a user wrote (or that an attacker crafted): safe, bounded, strict.

:func:`read_yaml` is ``yaml.safe_load`` (no object tags, nothing evaluated) with four guards, each
of which turns into one :class:`~emtrade.errors.Problem` naming the file and the line, never into
a hang, an out-of-memory or an internal error:

- **Alias expansion.** Anchors and aliases (``&a`` / ``*a``) let a few hundred bytes stand for
  billions of values ("billion laughs": ``b: &b [*a, *a, …]`` nine times over). PyYAML shares the
  aliased nodes, so reading is cheap, but anything that walks the value afterwards (validation,
  copying, an error message's ``repr``) walks every copy. While composing, every node's expanded
  size is counted: 1 for a scalar, 1 + the sizes of its children for a list or mapping, an alias
  counting the (memoised) size of the node it names. A document that expands to more than
  :data:`MAX_YAML_NODES` (1,000,000) nodes is refused at the first node that crosses the bound, in
  time linear in the file's size. (The Xiangtan scenario, tables inline, is about 20,000 nodes.) An
  alias inside the node it names (``&a [*a]``, a cycle) is refused too.
- **Depth.** Nesting deeper than :data:`MAX_YAML_DEPTH` (100) levels is refused before Python's
  recursion limit is reached.
- **Duplicate keys.** A key given twice in one mapping (a second ``caps:``, ``method:`` twice in a
  flow mapping) is an error naming the key and both lines, every duplicate of the document at once;
  YAML's merge key (``<<: *base``) still lets a mapping override merged keys.
- **Numbers.** A whole number of more than :data:`MAX_NUMBER_DIGITS` digits (no float holds it;
  Python refuses to convert 4,300) is refused naming its key. Digit separators are not numbers:
  YAML 1.1 reads ``1_00`` as 100; here it stays the text ``1_00`` (as in YAML 1.2), which a number
  field of the scenario then refuses.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from emtrade.errors import Problem, ScenarioError, excerpt

#: the most nodes a document may expand to through its aliases
MAX_YAML_NODES = 1_000_000
#: the deepest nesting of lists and mappings
MAX_YAML_DEPTH = 100
#: the longest whole number (digits); 1.8e308, the largest float, has 309
MAX_NUMBER_DIGITS = 400

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A document refused while reading: where (a PyYAML mark) and why."""

    def __init__(self, mark: Any, message: str):
        super().__init__(message)
        self.mark = mark
        self.message = message


def _without_digit_separators(resolvers: dict[str, list[tuple[str, re.Pattern]]]) -> dict:
    """PyYAML's implicit resolvers with the underscore taken out of the int and float patterns."""
    out: dict[str, list[tuple[str, re.Pattern]]] = {}
    for first, pairs in resolvers.items():
        out[first] = [
            (tag, re.compile(rx.pattern.replace("_", ""), rx.flags) if tag in (_INT, _FLOAT) else rx)
            for tag, rx in pairs
        ]
    return out


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader counting expanded nodes and depth while composing, refusing duplicate keys."""

    yaml_implicit_resolvers = _without_digit_separators(yaml.SafeLoader.yaml_implicit_resolvers)

    def __init__(self, stream: str):
        super().__init__(stream)
        self.expanded: dict[int, int] = {}  # id(node) → expanded size; nodes live in the tree meanwhile
        self.depth = 0
        self.duplicates: list[tuple[Any, int, int]] = []  # (key, first line, second line)

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self.expanded:
                raise _Refused(event.start_mark, f"the alias *{event.anchor} is inside the node it names (a cycle)")
            return super().compose_node(parent, index)  # the named node, already counted
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise _Refused(self.peek_event().start_mark, f"nested more than {MAX_YAML_DEPTH} levels deep")
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self.expanded[id(child)] for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self.expanded[id(k)] + self.expanded[id(v)] for k, v in node.value)
        self.expanded[id(node)] = size
        if size > MAX_YAML_NODES:
            raise _Refused(
                node.start_mark,
                f"its aliases (*name) expand to more than {MAX_YAML_NODES:,} values; refused "
                "(write the values out, or put tables in CSV files)",
            )
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node)
                line = key_node.start_mark.line + 1
                _check_number(value_node, key)
                try:
                    if key in first_line:
                        self.duplicates.append((key, first_line[key], line))
                    else:
                        first_line[key] = line
                except TypeError:  # an unhashable key: PyYAML says so below
                    pass
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: Any) -> int:
        _check_number(node, None)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor(_INT, _BoundedLoader.construct_yaml_int)


def _check_number(node: Any, key: Any) -> None:
    if not (isinstance(node, ScalarNode) and node.tag == _INT):
        return
    digits = len(node.value.strip().lstrip("+-"))  # any base: 0x fff… is as long a number
    if digits > MAX_NUMBER_DIGITS:
        named = f"{excerpt(key)}: " if key is not None else ""
        raise _Refused(
            node.start_mark, f"{named}a whole number of {digits:,} digits is too long (at most {MAX_NUMBER_DIGITS})"
        )


def read_yaml(text: str, display: str) -> Any:
    """Parse one YAML document of ``text``; raise ScenarioError (naming ``display`` and the line) if refused."""
    loader = _BoundedLoader(text)
    try:
        value = loader.get_single_data()
    except _Refused as exc:
        raise ScenarioError([Problem(display, _line(exc.mark), exc.message)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([Problem(display, _line(mark), f"invalid YAML: {problem}")]) from None
    except RecursionError:  # the depth bound should come first; this is the last line of defence
        raise ScenarioError([Problem(display, "", "the document is nested too deeply")]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ScenarioError([_duplicate(display, *dup) for dup in sorted(loader.duplicates, key=lambda d: d[2])])
    return value


def _line(mark: Any) -> str:
    return f"line {mark.line + 1}" if mark is not None else ""


def _duplicate(display: str, key: Any, first: int, second: int) -> Problem:
    lines = f"twice on line {first}" if first == second else f"twice, on lines {first} and {second}"
    return Problem(display, f"line {second}", f"key {excerpt(key)} is given {lines}: a mapping takes each key once")
