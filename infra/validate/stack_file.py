"""A stack file (``Pulumi.<stack>.yaml``) read the way the Pulumi CLI hands it to the program,
plus the line of every key, so that a problem can point at ``Pulumi.dev.yaml:12``.

Values become the strings the CLI passes (booleans ``true``/``false``, objects and lists as JSON
text); a secure value (``{secure: v1:...}``) stays opaque: it cannot be read without the stack's
secrets provider, so offline checks skip it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from infra.validate.problems import Problem

__all__ = ["SECRET", "StackFile", "StackFileError", "cli_value", "stack_names"]

#: Stand-in value of a secure config value (never decrypted offline).
SECRET = "[secret]"
_STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.ya?ml$")
_PATH_PART = re.compile(r"\[(\d+)\]|\.([A-Za-z0-9_]+)")


class StackFileError(Exception):
    """The stack file cannot be read at all (missing, not YAML, not a mapping)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


def stack_names(root: Path) -> list[str]:
    """The stacks that have a ``Pulumi.<stack>.yaml`` in ``root``, sorted."""
    names = []
    for path in root.iterdir():
        match = _STACK_FILE.match(path.name)
        if match and path.is_file():
            names.append(match.group(1))
    return sorted(set(names))


def cli_value(value: Any) -> str:
    """A YAML value as the Pulumi CLI hands it to the program: booleans ``true``/``false``, objects
    and lists as JSON text, null as ``""``, anything else as its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _is_secure(node: yaml.Node) -> bool:
    return (isinstance(node, yaml.MappingNode) and len(node.value) == 1
            and isinstance(node.value[0][0], yaml.ScalarNode) and node.value[0][0].value == "secure")


@dataclass
class StackFile:
    """One ``Pulumi.<stack>.yaml``: its config keys with their YAML nodes (for values and lines).

    ``display`` is the file name as problems show it; ``nodes`` maps the full key
    (``bc-sales:tenantId``) to its (key node, value node).
    """

    stack: str
    path: Path  # as given
    display: str  # the file name as shown in problems (relative to the project root)
    nodes: dict[str, tuple[yaml.Node, yaml.Node]] = field(default_factory=dict)  # full key -> (key, value)

    @classmethod
    def load(cls, root: Path, stack: str) -> StackFile:
        """Read ``root/Pulumi.<stack>.yaml`` (or ``.yml``).

        Raises ``FileNotFoundError`` when there is none, :class:`StackFileError` when it is not
        UTF-8, not YAML, or not a mapping with a ``config`` mapping.
        """
        for suffix in (".yaml", ".yml"):
            path = root / f"Pulumi.{stack}{suffix}"
            if path.is_file():
                break
        else:
            raise FileNotFoundError(stack)
        display = path.name
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise StackFileError(Problem(display, None, None, f"not UTF-8 text ({exc.reason})")) from None
        try:
            root_node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise StackFileError(Problem(display, mark.line + 1 if mark else None, None,
                                         f"YAML syntax error: {exc.problem or exc.context}")) from None
        sf = cls(stack, path, display)
        if root_node is None:
            return sf
        if not isinstance(root_node, yaml.MappingNode):
            raise StackFileError(Problem(display, root_node.start_mark.line + 1, None,
                                         "a stack file is a mapping with a 'config' section"))
        for key_node, value_node in root_node.value:
            if getattr(key_node, "value", None) != "config":
                continue
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":null"):
                return sf
            if not isinstance(value_node, yaml.MappingNode):
                raise StackFileError(Problem(display, value_node.start_mark.line + 1, "config",
                                             "expected a mapping of <project>:<key>: value"))
            for k, v in value_node.value:
                if isinstance(k, yaml.ScalarNode):
                    sf.nodes[str(k.value)] = (k, v)
        return sf

    # --- values --------------------------------------------------------------------------

    @property
    def keys(self) -> list[str]:
        """Every full config key (``bc-sales:tenantId``) in the file."""
        return list(self.nodes)

    def raw(self, full_key: str) -> Any:
        """The constructed Python value (``SECRET`` for secure values), ``None`` when absent."""
        if full_key not in self.nodes:
            return None
        node = self.nodes[full_key][1]
        if _is_secure(node):
            return SECRET
        return yaml.safe_load(yaml.serialize(node))

    def value(self, project: str, key: str) -> str | None:
        """``bc-sales:<key>`` as the CLI passes it to the program, ``None`` when absent."""
        full = f"{project}:{key}"
        if full not in self.nodes:
            return None
        return cli_value(self.raw(full))

    # --- lines ---------------------------------------------------------------------------

    def line_of(self, path: str) -> int | None:
        """The line of ``bc-sales:salespeople[1].roles`` (or its deepest existing parent)."""
        match = re.match(r"^([^.\[]+)(.*)$", path)
        if match is None:
            return None
        head, rest = match.groups()
        if head not in self.nodes:
            return None
        key_node, node = self.nodes[head]
        line = key_node.start_mark.line + 1
        for index, name in _PATH_PART.findall(rest):
            child: yaml.Node | None = None
            if index and isinstance(node, yaml.SequenceNode) and int(index) < len(node.value):
                child = node.value[int(index)]
                line = child.start_mark.line + 1
            elif name and isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if getattr(k, "value", None) == name:
                        child = v
                        line = k.start_mark.line + 1
                        break
            if child is None:
                break
            node = child
        return line

    def scalars(self) -> Iterator[tuple[str, int, str]]:
        """(key path, line, text) of every plain string value, secure values left out."""
        for full, (key_node, node) in self.nodes.items():
            yield from self._walk(full, node)

    def _walk(self, path: str, node: yaml.Node) -> Iterator[tuple[str, int, str]]:
        if _is_secure(node):
            return
        if isinstance(node, yaml.ScalarNode):
            if node.tag.endswith(":str"):
                yield path, node.start_mark.line + 1, str(node.value)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                yield from self._walk(f"{path}[{i}]", item)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                yield from self._walk(f"{path}.{getattr(k, 'value', '?')}", v)
