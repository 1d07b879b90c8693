"""Whether a file the task asked for was really written: missing, empty, a placeholder, unchanged.

The shell reads the file before and after the attempt and passes the texts; this
module only reads them. A placeholder is text that stands in for the work: a body of
only ``TODO`` lines, lorem ipsum, or code whose every function is a stub (``pass``,
``...``, ``raise NotImplementedError``, ``todo!()``, ``throw new Error("not implemented")``).
Python is read with :mod:`ast`, so a real module that merely mentions TODO is present.
"""

from __future__ import annotations

import ast
import re

from orchcore.supervise.evidence import Deliverable, DeliverableState

_LOREM = re.compile(r"\blorem ipsum\b", re.IGNORECASE)
_TODO_LINE = re.compile(r"^\W*(?:TODO|TBD|FIXME|XXX|PLACEHOLDER)\b", re.IGNORECASE)
_STUB_CALL = re.compile(
    r"\b(?:todo!\(|unimplemented!\(|throw new Error\(\s*['\"`]not implemented|"
    r"panic\(\s*\"not implemented|raise NotImplementedError)",
    re.IGNORECASE,
)
_CODE_LINE = re.compile(r"^\s*(?:#|//|/\*|\*|--|<!--)")


def deliverable_state(path: str, before: str | None, after: str | None) -> Deliverable:
    """The state of deliverable ``path`` given its text before the attempt and after (None: absent)."""
    if after is None:
        return Deliverable(path, DeliverableState.MISSING, "the file does not exist after the attempt")
    if not after.strip():
        return Deliverable(path, DeliverableState.EMPTY, "the file is empty")
    reason = placeholder_reason(path, after)
    if reason is not None:
        return Deliverable(path, DeliverableState.PLACEHOLDER, reason)
    if before is not None and before == after:
        return Deliverable(path, DeliverableState.UNCHANGED, "the attempt did not change it")
    return Deliverable(path, DeliverableState.PRESENT)


def placeholder_reason(path: str, text: str) -> str | None:
    """Why ``text`` is a placeholder rather than the work, or None when it looks like real content."""
    if _LOREM.search(text):
        return "it holds lorem ipsum filler"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    todo = [line for line in lines if _TODO_LINE.match(line)]
    if todo and len(todo) * 2 >= len(lines):
        return f"it is mostly TODO lines ({len(todo)} of {len(lines)})"
    if path.endswith(".py"):
        return _python_placeholder(path, text)
    code = [line for line in lines if not _CODE_LINE.match(line)]
    stubs = [line for line in code if _STUB_CALL.search(line)]
    if stubs and len(stubs) * 4 >= len(code):
        return f"its code is stubs: {stubs[0][:80]}"
    return None


def _is_stub_statement(node: ast.stmt) -> bool:
    if isinstance(node, ast.Pass):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True  # a docstring or a bare ``...``
    if isinstance(node, ast.Raise) and node.exc is not None:
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        return isinstance(target, ast.Name) and target.id == "NotImplementedError"
    return False


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _interface_functions(module: ast.Module) -> set[ast.AST]:
    """Functions whose stub body is the point: Protocol/ABC methods, ``@abstractmethod``, ``@overload``."""
    found: set[ast.AST] = set()
    for node in ast.walk(module):
        interface = isinstance(node, ast.ClassDef) and any(
            _name(b) in {"Protocol", "ABC"} for b in node.bases
        )
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            marked = any(_name(d) in {"abstractmethod", "overload"} for d in child.decorator_list)
            if interface or marked:
                found.add(child)
    return found


def _python_placeholder(path: str, text: str) -> str | None:
    try:
        module = ast.parse(text)
    except (SyntaxError, ValueError):
        return None  # not ours to judge: the checks will say it does not compile
    exempt = _interface_functions(module)
    functions = [
        n
        for n in ast.walk(module)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n not in exempt
    ]
    stubs = [f.name for f in functions if all(_is_stub_statement(s) for s in f.body)]
    if functions and len(stubs) == len(functions):
        return "every function body is a stub: " + ", ".join(stubs[:5])
    package_init = path.rsplit("/", 1)[-1] == "__init__.py"  # a docstring is all it needs
    if not functions and not package_init and all(_is_stub_statement(s) for s in module.body):
        return "the module holds no code"
    return None
