"""One reader for every file gpuplane reads: Pulumi.yaml, stack files, graphs, policy config.

Files that come from a pull request are hostile until proven otherwise, so reading
one is bounded and strict:

- text is UTF-8, with or without a byte-order mark; anything else (UTF-16 as
  PowerShell writes it, Latin-1, binary) is refused with the encoding named;
- YAML aliases are refused beyond `MAX_ALIASES`, and a document whose aliases
  would expand to more than `MAX_NODES` values is refused before anything walks
  it (an alias "bomb" is a few hundred bytes that expand to gigabytes);
- a key given twice in one mapping is refused, naming the key and both lines
  (YAML and JSON readers otherwise keep the last one silently);
- YAML reads as Pulumi's own reader (YAML 1.2) does: `on`, `yes` and dates stay
  strings; only `true` and `false` are booleans.

Every refusal is an `InputError` whose message starts with the file (and line).
Values quoted in messages are cut to `MAX_QUOTE` characters (`quote`).
"""

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from gpuplane.components.messages import quote

MAX_ALIASES = 100
"""Aliases per YAML document; a stack file needs a handful at most."""
MAX_NODES = 100_000
"""Values a YAML document may expand to, aliases counted at every use."""
MAX_BYTES = {"yaml": 4 * 1024 * 1024, "json": 256 * 1024 * 1024}
MAX_DEPTH = 200
"""Nesting of lists and mappings (the parsers recurse once per level)."""


class InputError(ValueError):
    """A file gpuplane cannot use. The message names the file, and the line where known."""


_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32 (big-endian, with a byte-order mark)"),
    (b"\xff\xfe\x00\x00", "UTF-32 (little-endian, with a byte-order mark)"),
    (b"\xfe\xff", "UTF-16 (big-endian, with a byte-order mark)"),
    (b"\xff\xfe", "UTF-16 (little-endian, with a byte-order mark, as PowerShell writes it)"),
)
_UTF8_BOM = b"\xef\xbb\xbf"


def decode(data: bytes, where: str) -> str:
    """UTF-8 text (a UTF-8 byte-order mark is dropped), or an InputError naming the encoding."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputError(f"{where}: the file is {name}; save it as UTF-8")
    data = data.removeprefix(_UTF8_BOM)
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise InputError(
            f"{where}:{line}: the file has NUL bytes: binary data, or UTF-16/UTF-32 without "
            "a byte-order mark; gpuplane reads UTF-8 text only"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{where}:{line}:{column}: not UTF-8 (byte 0x{data[exc.start]:02x}; "
            f"{_guess(data)}); save the file as UTF-8"
        ) from None


def _guess(data: bytes) -> str:
    """A short guess at a non-UTF-8 encoding, for the message."""
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data)
    high = [b for b in data if b >= 0x80]
    if printable < 0.7 * len(data):
        return "it looks like binary data"
    if all(b >= 0xA0 or 0x80 <= b <= 0x9F for b in high):
        return "it looks like Latin-1 or Windows-1252 text"
    return "an unknown 8-bit encoding"


def read_text(path: Path, kind: str = "yaml") -> str:
    """A file's text, decoded as `decode` does, refused above `MAX_BYTES[kind]`."""
    try:
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES[kind] + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES[kind]:
        raise InputError(f"{path}: larger than {MAX_BYTES[kind] // (1024 * 1024)} MiB")
    return decode(data, str(path))


# --- YAML ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, bounded aliases and no duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()
                raise _Refused(
                    f"more than {MAX_ALIASES} YAML aliases (*name); write the values out",
                    event.start_mark.line + 1,
                )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # an unhashable key: the base class refuses it with its line
            line = key_node.start_mark.line + 1
            if first is not None:
                raise _Refused(
                    f"duplicate key {quote(key)} (first at line {first}, again at line {line}); "
                    "keep one",
                    line,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


class _Refused(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


# YAML 1.2 core schema, as Pulumi's reader: only true/false are booleans; dates, `on`,
# `yes` and sexagesimal numbers stay strings.
_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _expanded_size(root: Node) -> int:
    """How many values the node tree expands to, each alias counted at every use.

    Memoised per node, so a bomb is measured without being expanded; a node that
    contains itself (a recursive alias) is refused.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused("a YAML alias refers to a value that contains it", _line(node))
        if depth > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels", _line(node))
        active.add(key)
        total = 1
        for child in _children(node):
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise _Refused(
                    f"its aliases expand to more than {MAX_NODES:,} values; write the values "
                    "out instead of repeating aliases",
                    _line(node),
                )
        active.discard(key)
        sizes[key] = total
        return total

    return size(root, 0)


def _children(node: Node) -> Iterator[Node]:
    if isinstance(node, SequenceNode):
        yield from node.value
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _line(node: Node) -> int:
    return node.start_mark.line + 1


@contextlib.contextmanager
def _reading(text: str, where: str) -> Iterator["_Loader"]:
    """A loader over `text`; what it refuses or cannot parse becomes one InputError
    naming `where` (and the line where known)."""
    loader = _Loader(text)
    try:
        yield loader
    except _Refused as exc:
        at = f":{exc.line}" if exc.line else ""
        raise InputError(f"{where}{at}: {exc.message}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "cannot parse"
        raise InputError(f"{where}{at}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to read") from None
    finally:
        loader.dispose()


def parse_yaml(text: str, where: str) -> Any:
    """One YAML document (None when empty), as `load_yaml` reads a file."""
    with _reading(text, where) as loader:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node)
        value = loader.construct_document(node)
    _check_plain(value, where)
    return value


def parse_yaml_documents(text: str, where: str) -> list[Any]:
    """Every document of a multi-document YAML stream (`---`), each read as `parse_yaml`
    reads one (the alias budget counts over the whole file); empty documents dropped."""
    values: list[Any] = []
    with _reading(text, where) as loader:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _expanded_size(node)
            values.append(loader.construct_document(node))
    for value in values:
        _check_plain(value, where)
    return [v for v in values if v is not None]


def _check_plain(value: Any, where: str, path: str = "") -> None:
    """Only what YAML 1.2 and JSON give: strings, numbers, booleans, null, lists, mappings
    (no !!binary, !!set or !!timestamp values)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise InputError(
                    f"{where}: {path or 'the document'}: a key must be a string, given {quote(key)}"
                )
            _check_plain(inner, where, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _check_plain(inner, where, f"{path}[{i}]")
    elif not isinstance(value, str | int | float | bool) and value is not None:
        raise InputError(
            f"{where}: {path or 'the document'}: {type(value).__name__} values (YAML tags "
            f"such as !!binary, !!set or !!timestamp) are not config; given {quote(value)}"
        )


def load_yaml(path: Path) -> Any:
    """A YAML file's one document, read as the module docstring says."""
    return parse_yaml(read_text(path, "yaml"), str(path))


# --- JSON ----------------------------------------------------------------------------


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def parse_json(text: str, where: str) -> Any:
    """A JSON document with every key once, as `load_json` reads a file."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except _Duplicate as exc:
        # JSON is YAML too: the YAML reader knows the lines of both keys.
        try:
            parse_yaml(text, where)
        except InputError as located:
            if "duplicate key" in str(located):
                raise located from None
        raise InputError(f"{where}: duplicate key {quote(exc.key)}; keep one") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to read") from None


def load_json(path: Path) -> Any:
    """A JSON file, read as the module docstring says."""
    return parse_json(read_text(path, "json"), str(path))


# --- where a key is ------------------------------------------------------------------

_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def key_line(path: Path, key: str) -> int:
    """The line of a config key (`gpuplane:cluster.endpoint.publicAccessCidrs`,
    `gpuplane:gpuPools[1].name`) in a stack file: the deepest part of it written there,
    1 when none is."""
    loader = _Loader(read_text(path, "yaml"))
    try:
        root = loader.get_single_node()
    except (yaml.YAMLError, _Refused, RecursionError):
        return 1
    finally:
        loader.dispose()
    config = _value_of(root, "config")
    if config is None:
        return 1
    parts = [(int(i) if i else name) for i, name in _PART.findall(key)]
    first = str(parts[0])
    namespace, _, bare = first.partition(":")
    line = 1
    node: Node | None = None
    for candidate in (first, bare) if namespace == "gpuplane" else (first,):
        found = _entry(config, candidate)
        if found is not None:
            line, node = found
            break
    for part in parts[1:]:
        if node is None:
            break
        if isinstance(part, int):
            if not isinstance(node, SequenceNode) or part >= len(node.value):
                break
            node = node.value[part]
            line = _line(node)
        else:
            found = _entry(node, part)
            if found is None:
                break
            line, node = found
    return line


def _entry(node: Node | None, key: str) -> tuple[int, Node] | None:
    if not isinstance(node, MappingNode):
        return None
    for key_node, value in node.value:
        if getattr(key_node, "value", None) == key:
            return _line(key_node), value
    return None


def _value_of(node: Node | None, key: str) -> Node | None:
    found = _entry(node, key)
    return found[1] if found else None
