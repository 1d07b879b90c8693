"""Bash's grammar (tree-sitter-bash): a command line as the simple commands it runs, in order.

Internal to ``orchcore.safety``. Pure computation: tree-sitter parses a string
in memory. Every ``command`` node anywhere in the tree is one simple command,
however it is nested (lists, pipelines, subshells, groups, functions, loops,
``$(...)``, backticks, ``<(...)``, quoted or not). A word the shell computes at
run time (a variable, a substitution, a glob or brace in a command name) is an
``Expanded`` string holding its source text, so the checks can refuse to guess.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, TypeAlias

import attrs

from orchcore.safety.arguments import Expanded, joined

if TYPE_CHECKING:
    from tree_sitter import Language, Node, Parser

MAX_NESTING = 8  # $(...) inside $(...): deeper than this is refused, not guessed


@attrs.frozen
class Command:
    """One simple command: its words (program first), the assignments before it, what it reads on stdin."""

    words: tuple[str, ...]
    env: dict[str, str]
    stdin: tuple[str, ...]


@attrs.frozen
class Assignment:
    """``NAME=value`` on its own (or after ``export``): later commands see it."""

    name: str
    value: str


@attrs.frozen
class Write:
    """A redirection that writes the file ``target`` (``>``, ``>>``, ``&>``, ``>|``, ``<>``)."""

    target: str
    text: str


@attrs.frozen
class Nested:
    """Shell text the grammar leaves as text but the shell runs: backticks in an unquoted here-document."""

    text: str


Item: TypeAlias = Command | Assignment | Write | Nested


@attrs.frozen
class Script:
    """What a command line runs, in source order; ``too_deep`` if substitutions nest past the limit."""

    items: tuple[Item, ...]
    too_deep: bool = False


@functools.cache
def _parser_parts() -> tuple[type[Parser], Language]:
    """tree-sitter loaded on first use: commands that never check a shell line do not pay for it."""
    import tree_sitter_bash
    from tree_sitter import Language, Parser

    return Parser, Language(tree_sitter_bash.language())


_SOURCE: contextvars.ContextVar[bytes] = contextvars.ContextVar("shell_source")
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def parse(text: str) -> Script | None:
    """The items ``text`` runs, or None if it is not valid shell (a parse error anywhere)."""
    source = text.encode("utf-8", "surrogatepass")
    # Bash treats every non-ASCII character as a word character, like `a`. tree-sitter-bash
    # 0.25 can crash the process on some (`{` + U+E0000), so it parses that shape, byte for
    # byte, and node texts are read back from the real source.
    shape = _NON_ASCII.sub(b"a", source)
    parser_type, language = _parser_parts()
    tree = parser_type(language).parse(shape)  # a parser is cheap (and per call: thread-safe)
    if tree.root_node.has_error:
        return None
    token = _SOURCE.set(source)
    try:
        return _Walk().run(tree.root_node)
    finally:
        _SOURCE.reset(token)


_WRITE_OPERATORS = frozenset({">", ">>", "&>", "&>>", ">|", "<>"})
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_BRACES = re.compile(r"\{[^{}]*(,|\.\.)[^{}]*\}")
_GLOB = re.compile(r"(?<!\\)[*?\[]")
_BACKTICKS = re.compile(r"`([^`]*)`")


def _src(node: Node) -> str:
    raw = _SOURCE.get()[node.start_byte : node.end_byte]
    try:
        return raw.decode("utf-8", "surrogatepass")  # lone surrogates round-trip
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


def _key(node: Node) -> tuple[int, int]:
    return node.start_byte, node.end_byte


@attrs.define
class _Walk:
    """One pre-order pass over the tree; ``stdin`` holds what pipes and here-documents feed a command."""

    items: list[Item] = attrs.Factory(list)
    stdin: dict[tuple[int, int], list[str]] = attrs.Factory(dict)
    too_deep: bool = False

    def run(self, root: Node) -> Script:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, depth = stack.pop()
            kind = node.type
            if kind in _SUBSTITUTIONS:
                depth += 1
                if depth > MAX_NESTING:
                    self.too_deep = True
                    continue
            self._visit(node, kind)
            stack.extend((child, depth) for child in reversed(node.named_children))  # tokens hold no commands
        return Script(tuple(self.items), self.too_deep)

    def _visit(self, node: Node, kind: str) -> None:
        if kind == "command":
            self.items.append(self._command(node))
        elif kind == "variable_assignment" and (node.parent is None or node.parent.type != "command"):
            name, value = _assignment(node)
            self.items.append(Assignment(name, value))
        elif kind == "file_redirect":
            self._redirect(node)
        elif kind == "heredoc_redirect" and not _quoted_heredoc(node):  # the shell expands its body
            for body in node.named_children:
                if body.type == "heredoc_body":
                    self.items += [Nested(m.group(1)) for m in _BACKTICKS.finditer(_src(body))]
        elif kind == "pipeline":
            elements = node.named_children
            for before, after in itertools.pairwise(elements):
                self._feed(after, _output(before))
            if node.parent is not None and node.parent.type == "heredoc_redirect" and elements:
                # `cat <<EOF | sh`: tree-sitter hangs the pipe under the here-document
                statement = node.parent.parent
                if statement is not None:
                    self._feed(elements[0], _output(statement))
        elif kind == "redirected_statement":
            statement_body = node.child_by_field_name("body")
            if statement_body is not None:
                self._feed(statement_body, _heredocs(node))

    def _feed(self, statement: Node, texts: list[str]) -> None:
        command = _command_of(statement)
        if command is not None and texts:
            self.stdin.setdefault(_key(command), []).extend(texts)

    def _command(self, node: Node) -> Command:
        env: dict[str, str] = {}
        words: list[str] = []
        stdin = list(self.stdin.get(_key(node), []))
        for child in node.named_children:
            kind = child.type
            if kind == "variable_assignment" and not words:
                name, value = _assignment(child)
                env[name] = value
            elif kind == "command_name":
                words.append(_command_word(child))
            elif kind == "herestring_redirect":
                stdin += [_word(part) for part in child.named_children]
            elif kind not in ("file_redirect", "heredoc_redirect", "comment"):
                words.append(_word(child))
        return Command(tuple(words), env, tuple(stdin))

    def _redirect(self, node: Node) -> None:
        operator = next((c.type for c in node.children if not c.is_named), "")
        destination = node.child_by_field_name("destination")
        if destination is None:
            return
        target = _word(destination)
        if operator in _WRITE_OPERATORS or (operator == ">&" and not target.isdigit() and target != "-"):
            statement = node.parent if node.parent is not None else node
            self.items.append(Write(target, _src(statement)))


def _command_of(statement: Node) -> Node | None:
    """The simple command a pipe or a redirection feeds: for ``a && cat <<EOF``, ``cat``."""
    node: Node | None = statement
    if statement.type == "redirected_statement":
        node = statement.child_by_field_name("body")
    while node is not None and node.type in ("list", "pipeline", "redirected_statement", "negated_command"):
        named = node.named_children
        node = named[-1] if node.type != "redirected_statement" else node.child_by_field_name("body")
        if not named:
            return None
    return node if node is not None and node.type == "command" else None


def _heredocs(statement: Node) -> list[str]:
    """The here-documents of a redirected statement, as text (Expanded when the shell expands them)."""
    texts: list[str] = []
    for redirect in statement.named_children:
        if redirect.type != "heredoc_redirect":
            continue
        for body in redirect.named_children:
            if body.type == "heredoc_body":
                text = _src(body)
                expands = not _quoted_heredoc(redirect) and ("`" in text or "$" in text)
                texts.append(Expanded(text) if expands else text)
    return texts


def _quoted_heredoc(redirect: Node) -> bool:
    """``<<'EOF'``, ``<<"EOF"`` or ``<<\\EOF``: the body is taken literally."""
    start = next((c for c in redirect.named_children if c.type == "heredoc_start"), None)
    return start is not None and any(c in _src(start) for c in "'\"\\")


def _output(statement: Node) -> list[str]:
    """What a statement writes to a pipe, as far as the line shows it: echo/printf's words, cat's input."""
    command = _command_of(statement)
    if command is None:
        return []
    words = [w for child in command.named_children for w in _plain_words(child)]
    names = [w.rsplit("/", 1)[-1] for w in words]
    for i, name in enumerate(names):
        if name in ("echo", "printf"):  # possibly behind env, sudo, ...: cautious
            text = joined(words[i + 1 :])
            unescaped = text.replace("\\n", "\n")
            return [Expanded(unescaped) if isinstance(text, Expanded) else unescaped]
    if "cat" in names:
        herestrings = [
            _word(part)
            for child in command.named_children
            if child.type == "herestring_redirect"
            for part in child.named_children
        ]
        return [*herestrings, *(_heredocs(statement) if statement.type == "redirected_statement" else [])]
    return []


def _plain_words(child: Node) -> Iterator[str]:
    if child.type == "command_name":
        yield _command_word(child)
    elif child.type not in ("variable_assignment", "file_redirect", "herestring_redirect", "comment"):
        yield _word(child)


def _assignment(node: Node) -> tuple[str, str]:
    name_node = node.child_by_field_name("name")
    value_node = node.child_by_field_name("value")
    name = _src(name_node) if name_node is not None else ""
    return name, "" if value_node is None else _word(value_node)


def _command_word(node: Node) -> str:
    """A command name: like any word, but a glob or brace in it is decided at run time.

    ``$HOME/.local/bin/uv`` is known enough: the program's own name is literal,
    only its directory is expanded.
    """
    parts = node.named_children
    word = joined([_word(part) for part in parts], sep="") if parts else _src(node)
    unquoted = "".join(_src(p) for p in parts if p.type == "word")
    if _GLOB.search(unquoted) or _BRACES.search(_src(node)):
        return Expanded(word)
    if isinstance(word, Expanded) and _literal_name(node):
        return str(word)  # a plain str: the program is known
    return word


def _literal_name(node: Node) -> bool:
    """The text after the command word's last ``/`` is literal (no expansion reaches past it)."""
    last: Node | None = node
    while last is not None and last.type in ("command_name", "concatenation", "string"):
        named = last.named_children
        last = named[-1] if named else None
    if last is None or last.type not in ("word", "string_content"):
        return False
    text = _src(last)
    return "/" in text and not _GLOB.search(text.rsplit("/", 1)[1])


def _word(node: Node) -> str:
    """A word as the shell passes it on: quotes removed, escapes resolved, expansions as Expanded source."""
    kind = node.type
    text = _src(node)
    if kind == "word":
        return Expanded(text) if _BRACES.search(text) else _unescape(text)
    if kind == "number":
        return text
    if kind == "raw_string":
        return text[1:-1]
    if kind == "ansi_c_string":
        return _ansi_c(text[2:-1])
    if kind == "string":
        parts = [
            _unescape_double(_src(c)) if c.type == "string_content" else _src(c) for c in node.named_children
        ]
        dynamic = any(c.type != "string_content" for c in node.named_children)
        return Expanded("".join(parts)) if dynamic else "".join(parts)
    if kind == "concatenation":
        word = joined([_word(c) for c in node.named_children], sep="")
        return Expanded(word) if _BRACES.search(text) else word
    return Expanded(text)  # an expansion, a substitution, or a form we do not resolve


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", r"\1", text.replace("\\\n", ""), flags=re.DOTALL)


def _unescape_double(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r'\\([$`"\\])', r"\1", text.replace("\\\n", ""))


_C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b"}
_C_ESCAPES |= {"E": "\x1b", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def _ansi_c(body: str) -> str:
    """Bash's ``$'...'``: ``\\x67`` is ``g``, so ``$'\\x67it'`` is ``git``."""

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16)) if len(escape) > 1 else match.group(0)
        if escape[0] in "01234567":
            return chr(int(escape, 8) & 0xFF)
        return _C_ESCAPES.get(escape, match.group(0))

    try:
        return re.sub(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{1,4}|U[0-9A-Fa-f]{1,8}|[0-7]{1,3}|.)", one, body)
    except (ValueError, OverflowError):
        return Expanded(body)
