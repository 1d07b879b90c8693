"""Reading one command's arguments: options, git's read-only forms, database hosts, deleted paths.

Internal to ``orchcore.safety``. Pure functions of argument lists and paths
(``posixpath`` only): they say whether a given invocation falls under a rule.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import parse_qs, unquote, urlsplit

from orchcore.safety.policy import ArgCheck


class Expanded(str):
    """A word the shell computes at run time (a variable, a substitution): its source text.

    Slices and joins of it are plain ``str``; ``joined`` keeps the mark.
    """

    __slots__ = ()


def joined(words: Sequence[str], sep: str = " ") -> str:
    """``sep.join(words)``, Expanded if any word is: text run later is only as known as its parts."""
    text = sep.join(words)
    return Expanded(text) if any(isinstance(w, Expanded) for w in words) else text


ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[[^\]]*\])?\+?=(.*)$", re.DOTALL)

# --------------------------------------------------------------------------- options


def skip_options(args: Sequence[str], value_opts: frozenset[str] | set[str], start: int = 0) -> int:
    """Index of the first positional argument from ``start`` (after ``--`` if that comes first)."""
    i = start
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if not arg.startswith("-") or arg == "-":
            return i
        i += 2 if arg in value_opts else 1
    return i


def positionals(args: Sequence[str], value_opts: frozenset[str] | set[str]) -> list[str]:
    """The arguments that are not options nor the values of ``value_opts``."""
    found, i, options = [], 0, True
    while i < len(args):
        arg = args[i]
        if options and arg == "--":
            options = False
        elif options and arg.startswith("-") and arg != "-":
            i += 1 if arg in value_opts else 0
        else:
            found.append(arg)
        i += 1
    return found


def option_value(args: Sequence[str], short: str, long: str) -> str | None:
    """The value of ``-x v``, ``-xv``, ``--long v`` or ``--long=v``; None if absent."""
    for i, arg in enumerate(args):
        if arg in (short, long) and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(long + "="):
            return arg.split("=", 1)[1]
        if short and arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            return arg[len(short) :]
    return None


def assignments(args: Sequence[str], start: int) -> tuple[dict[str, str], int]:
    """``NAME=value`` words from ``start`` on, and the index of the first other word."""
    found: dict[str, str] = {}
    i = start
    while i < len(args) and (match := ASSIGNMENT.match(args[i])):
        found[match.group(1)] = match.group(2)
        i += 1
    return found, i


def word_matches(pattern: str, word: str) -> bool:
    """``pattern`` equals ``word``, or is a prefix of it when it ends in ``*``."""
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def find_run(words: Sequence[str], run: Sequence[str]) -> int | None:
    """Where ``run`` occurs as consecutive ``words`` (patterns allowed), or None."""
    for start in range(len(words) - len(run) + 1):
        if all(word_matches(p, w) for p, w in zip(run, words[start:], strict=False)):
            return start
    return None


def consume(args: Sequence[str], words: Sequence[str]) -> list[str] | None:
    """``args`` after the positional ``words`` that must come first (options skipped), or None."""
    i = 0
    for word in words:
        while i < len(args) and args[i].startswith("-"):
            i += 1
        if i >= len(args) or not word_matches(word, args[i]):
            return None
        i += 1
    return list(args[i:])


def has_flag(args: Sequence[str], patterns: Sequence[str]) -> bool:
    """One of ``patterns`` is given before ``--``: exact, ``--opt=v``, ``prefix*``, or ``-f`` in ``-fq``."""
    for arg in args:
        if arg == "--":
            return False
        for pattern in patterns:
            if pattern.endswith("*") and arg.startswith(pattern[:-1]):
                return True
            if arg == pattern or (pattern.startswith("--") and arg.startswith(pattern + "=")):
                return True
            short = len(pattern) == 2 and pattern[0] == "-" and pattern[1] != "-"
            if short and re.fullmatch(r"-[A-Za-z0-9]+", arg) and pattern[1] in arg[1:]:
                return True
    return False


VALUE_OPTIONS: Mapping[str, frozenset[str]] = {
    name: frozenset(opts.split())
    for name, opts in {
        "alembic": "-c --config -n --name -x -m --message --rev-id --head --branch-label --depends-on",
        "supabase": "--workdir --profile -o --output --db-url -p --password -s --schema --network-id",
        "prisma": "--schema --name -n",
        "migrate": "-path -database -source -lock-timeout -prefetch",
        "goose": "-dir -table -certfile -s",
        "psql": "-c --command -d --dbname -f --file -h --host -p --port -U --username -v --set --variable "
        "-o --output -L --log-file -P --pset -T --table-attr -F --field-separator -R --record-separator",
        "pg_restore": "-d --dbname -h --host -p --port -U --username -f --file -F --format -j --jobs -L "
        "--use-list -n --schema -N --exclude-schema -t --table -T --trigger -I --index -P --function",
        "mysql": "-h --host -u --user -P --port -e --execute -D --database -S --socket --protocol",
        "mariadb": "-h --host -u --user -P --port -e --execute -D --database -S --socket --protocol",
    }.items()
}
"""Per program, the options that take a separate value (so the value is not read as a subcommand)."""

# --------------------------------------------------------------------------- git

_GIT_VALUE_TEXT = "-C -c --git-dir --work-tree --namespace --super-prefix --config-env --attr-source"
_GIT_FLAG_TEXT = (
    "-p -P --paginate --no-pager --bare --no-replace-objects --literal-pathspecs --glob-pathspecs "
    "--noglob-pathspecs --icase-pathspecs --no-optional-locks --no-advice --html-path --man-path "
    "--info-path --version -v --help -h --exec-path"
)
GIT_VALUE_OPTS = frozenset(_GIT_VALUE_TEXT.split())
_GIT_FLAGS = frozenset(_GIT_FLAG_TEXT.split())


def git_subcommand_indexes(args: Sequence[str]) -> tuple[list[int], dict[str, str]]:
    """Where git's subcommand may be, and the ``-c alias.<name>=<value>`` aliases given.

    The first index is the plain reading; more follow for every unknown global
    option, in case it took a value (``git --new-opt x commit``).
    """
    aliases: dict[str, str] = {}
    maybe: list[int] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in GIT_VALUE_OPTS:
            if arg == "-c" and i + 1 < len(args):
                key, _, value = args[i + 1].partition("=")
                if key.lower().startswith("alias."):
                    aliases[key[6:].lower()] = value
            i += 2
        elif (arg.startswith("--") and "=" in arg) or arg in _GIT_FLAGS:
            i += 1
        elif arg.startswith("-"):
            maybe.append(i + 2)
            i += 1
        else:
            break
    return [i, *maybe], aliases


def _revision_like(word: str) -> bool:
    if re.fullmatch(r"(HEAD|ORIG_HEAD|FETCH_HEAD|MERGE_HEAD|@)([~^].*)?|[0-9a-f]{7,64}", word):
        return True
    return any(c in word for c in "~^") or "@{" in word or ("." not in word and "/" not in word)


def _path_like(word: str) -> bool:
    if word in (".", "..") or word.startswith(("./", "../", "/", ":")) or any(c in word for c in "*?["):
        return True
    name = posixpath.basename(word)
    return "." in name[1:] and not any(c in word for c in "~^@")


def _before_dashes(args: list[str]) -> list[str]:
    return args[: args.index("--")] if "--" in args else args


def _reset_moves(args: list[str]) -> bool:
    if has_flag(args, ("--hard", "--soft", "--merge", "--keep")):
        return True
    return any(_revision_like(a) for a in _before_dashes(args) if not a.startswith("-"))


def _checkout_switches(args: list[str]) -> bool:
    for arg in _before_dashes(args):
        if arg in ("--orphan", "--detach", "-t", "--track", "--guess") or arg.startswith("--track="):
            return True
        if re.fullmatch(r"-[A-Za-z]*[bB].*", arg):
            return True
    if "--" in args:
        return False
    return not all(_path_like(p) for p in positionals(args, {"--conflict"}))


_BRANCH_WRITE = "-d -D --delete -m -M --move -c -C --copy -f --force -u --set-upstream-to --unset-upstream "
_BRANCH_WRITE += "--edit-description -t --track"
_BRANCH_LIST = "-l --list -a --all -r --remotes --contains --no-contains --merged --no-merged --points-at "
_BRANCH_LIST += "--show-current -v -vv --verbose"
_LIST_VALUES = frozenset(
    ["--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--format", "--sort"]
)


def _branch_writes(args: list[str]) -> bool:
    if has_flag(args, _BRANCH_WRITE.split()):
        return True
    return not has_flag(args, _BRANCH_LIST.split()) and bool(positionals(args, _LIST_VALUES))


_TAG_WRITE = "-d --delete -a --annotate -s --sign -u --local-user -f --force -m --message -F --file -e --edit"
_TAG_LIST = "-l --list -n* --contains --no-contains --merged --no-merged --points-at -v --verify --column"


def _tag_writes(args: list[str]) -> bool:
    if has_flag(args, _TAG_WRITE.split()):
        return True
    return not has_flag(args, _TAG_LIST.split()) and bool(positionals(args, _LIST_VALUES))


_CONFIG_WRITE = "--add --replace-all --unset --unset-all --rename-section --remove-section -e --edit"
_CONFIG_READ = "--get --get-all --get-regexp --get-urlmatch -l --list --get-color"
_CONFIG_VALUES = frozenset(["-f", "--file", "--blob", "--type", "--default", "--comment", "--value"])


def _config_writes(args: list[str]) -> bool:
    if has_flag(args, _CONFIG_WRITE.split()):
        return True
    words = positionals(args, _CONFIG_VALUES)
    if words[:1] and words[0] in ("set", "unset", "rename-section", "remove-section", "edit"):
        return True
    if (words[:1] and words[0] in ("get", "list")) or has_flag(args, _CONFIG_READ.split()):
        return False
    return len(words) >= 2


def _symref_writes(args: list[str]) -> bool:
    return has_flag(args, ("-d", "--delete")) or len(positionals(args, {"-m"})) >= 2


GIT_CHECKS: Mapping[ArgCheck, Callable[[list[str]], bool]] = {
    ArgCheck.GIT_RESET_MOVES_REF: _reset_moves,
    ArgCheck.GIT_SWITCHES_BRANCH: _checkout_switches,
    ArgCheck.GIT_WRITES_BRANCH: _branch_writes,
    ArgCheck.GIT_WRITES_TAG: _tag_writes,
    ArgCheck.GIT_WRITES_CONFIG: _config_writes,
    ArgCheck.GIT_WRITES_SYMREF: _symref_writes,
}
"""For each git-specific check: does this argument list (after the subcommand) write?"""

# --------------------------------------------------------------------------- databases

_LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "[::1]"})
_HOST_ENV = {
    "psql": ("PGHOST", "PGHOSTADDR"),
    "pg_restore": ("PGHOST", "PGHOSTADDR"),
    "mysql": ("MYSQL_HOST",),
    "mariadb": ("MYSQL_HOST",),
}


def remote_db_host(program: str, args: list[str], env: Mapping[str, str]) -> str | None:
    """The first non-local host a database client would reach: "" if unknowable, None if all local.

    Reads ``-h``/``--host``, ``-d``/``--dbname`` and psql's first positional (a
    name, a ``key=value`` conninfo or a ``postgresql://`` URL, multi-host
    included) and PGHOST/PGHOSTADDR/MYSQL_HOST from ``env``. A socket directory
    (``/var/run/postgresql``) is local; a ``$VARIABLE`` is unknowable.
    """
    hosts: list[str] = []
    for short, long in (("-h", "--host"), ("-d", "--dbname")):
        for i, arg in enumerate(args):
            if arg in (short, long) and i + 1 < len(args):
                hosts.extend(_hosts_in(args[i + 1], is_host=short == "-h"))
            elif arg.startswith(long + "="):
                hosts.extend(_hosts_in(arg.split("=", 1)[1], is_host=short == "-h"))
            elif arg.startswith(short) and len(arg) > 2 and not arg.startswith("--"):
                hosts.extend(_hosts_in(arg[2:], is_host=short == "-h"))
    words = positionals(args, VALUE_OPTIONS.get(program, frozenset()))
    if program == "psql" and words:
        hosts.extend(_hosts_in(words[0], is_host=False))
    hosts.extend(env[k] for k in _HOST_ENV.get(program, ()) if k in env)
    for host in hosts:
        if "$" in host or "`" in host:
            return ""
        for one in host.split(","):
            name = one.strip()
            if name not in _LOCAL_HOSTS and not name.startswith(("/", "@")):
                return name
    return None


def _hosts_in(value: str, *, is_host: bool) -> list[str]:
    if is_host:
        return [value]
    if "://" in value:
        try:
            parts = urlsplit(value)
            netloc = parts.netloc.rpartition("@")[2]
            query = parse_qs(parts.query)
        except ValueError:
            return [""]
        hosts = [
            h.split("]")[0] + "]" if h.startswith("[") else unquote(re.sub(r":\d*$", "", h))
            for h in netloc.split(",")
        ]
        return [*hosts, *query.get("host", []), *query.get("hostaddr", [])]
    if "=" in value:
        pairs = re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", value)
        return [v.strip("'") for k, v in pairs if k in ("host", "hostaddr")]
    return ["$"] if "$" in value else []


# --------------------------------------------------------------------------- paths


def norm(path: str) -> str:
    """``posixpath.normpath`` with a leading ``//`` folded to ``/``."""
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/") if normal.startswith("//") else normal


def within(path: str, root: str) -> bool:
    """``path`` is strictly below ``root`` (both normalised)."""
    return path != root and path.startswith(root.rstrip("/") + "/")


def _glob_matches(pattern: str, name: str) -> bool:
    if not any(c in pattern for c in "*?["):
        return pattern == name
    if name.startswith(".") and not pattern.startswith((".", "[")):
        return False  # the shell's `*` does not match a leading dot
    regex = re.sub(r"\\\[[^\]]*\\\]|\\\[[^\]]*\]", ".", re.escape(pattern))
    return re.fullmatch(regex.replace(r"\*", ".*").replace(r"\?", "."), name) is not None


def delete_reason(
    path: str, cwds: Sequence[str | None], root: str, allowed: Sequence[str], *, may_be_root: bool
) -> str | None:
    """Why deleting ``path`` (from any of ``cwds``) is forbidden, or None if it stays in the workspace.

    Forbidden: outside ``root`` (unless below an ``allowed`` directory), ``root``
    itself (unless ``may_be_root``: ``find . -delete`` keeps ``.``), anything a glob
    could make ``root/.git``, a home directory (``~``), a path starting with a
    variable, or a relative path after a ``cd`` to somewhere unknowable.
    """
    if path.startswith("~"):
        return "deletes in a home directory, outside the workspace"
    if re.match(r"\$\{?PWD\}?(/|$)", path):
        path = "." + re.sub(r"^\$\{?PWD\}?", "", path)
    if path.startswith(("$", "`")):
        return "deletes a path only known when the command runs"
    path = re.sub(r"\$\{[^}]*\}|\$\w+|`[^`]*`|\$", "_", path)
    for cwd in cwds:
        if cwd is None and not path.startswith("/"):
            return "deletes a relative path after changing to a directory not known in advance"
        resolved = norm(posixpath.join(cwd or "/", path))
        if resolved == root:
            if not may_be_root:
                return "deletes the workspace itself"
        elif within(resolved, root):
            if _glob_matches(resolved[len(root) :].lstrip("/").split("/")[0], ".git"):
                return "deletes the repository's .git"
        elif not any(within(resolved, norm(d)) for d in allowed):
            return "deletes outside the workspace"
    return None


GIT_DIR_WRITE = "write inside the repository's .git"


def write_reason(path: str, root: str, allowed: Sequence[str]) -> str | None:
    """Why a file tool may not write ``path`` (relative to ``root``), or None if it is in the workspace."""
    resolved = None if path.startswith("~") else norm(posixpath.join(root, path))
    if resolved is not None and within(resolved, root):
        inside_git = resolved[len(root) :].lstrip("/").split("/")[0] == ".git"
        return GIT_DIR_WRITE if inside_git else None
    if resolved is not None and any(within(resolved, norm(d)) for d in allowed):
        return None
    return "write outside the workspace"


def git_dir_write_reason(path: str, cwds: Sequence[str | None], root: str) -> str | None:
    """Why a shell redirect may not write ``path``: it lands in the workspace's ``.git``; else None."""
    for cwd in cwds:
        if cwd is None or path.startswith(("~", "$", "`")):
            continue
        resolved = norm(posixpath.join(cwd, path))
        if within(resolved, root) and resolved[len(root) :].lstrip("/").split("/")[0] == ".git":
            return GIT_DIR_WRITE
    return None


#: where a shell redirect writes without leaving the workspace in any way that matters
_HARMLESS_SINKS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"})
_HARMLESS_SINK_FOLDERS = ("/dev/fd", "/proc/self/fd")
#: scratch space: private to the attempt under the sandbox; agents send logs there all the time
_SCRATCH = ("/tmp",)  # noqa: S108


def redirect_outside_reason(
    path: str, cwds: Sequence[str | None], root: str, allowed: Sequence[str]
) -> str | None:
    """Why a shell redirect may not write ``path``: from some directory the command may be in, it
    lands outside the workspace (and outside ``allowed`` and /tmp); else None.

    ``~`` is the user's home, outside the workspace; a path that starts with a variable or a
    command substitution is only known when it runs and is left to the sandbox.
    """
    if path.startswith(("$", "`")) or not path:
        return None
    if path == "~" or path.startswith("~/"):
        return "write outside the workspace"
    for cwd in cwds:
        if cwd is None and not path.startswith("/"):
            continue
        resolved = norm(posixpath.join(cwd or "/", path))
        if resolved in _HARMLESS_SINKS or any(within(resolved, d) for d in _HARMLESS_SINK_FOLDERS):
            continue
        if within(resolved, root) or any(within(resolved, norm(d)) for d in (*allowed, *_SCRATCH)):
            continue
        return "write outside the workspace"
    return None
