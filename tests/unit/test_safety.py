"""The safety policy's pure matchers: shell commands, tool calls, ref changes, Claude deny rules."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.claude_code.permissions import deny_rules
from adapters.claude_code.tools import tool_call
from orchcore.errors import ConfigError
from orchcore.ports.agent import ToolAction, ToolCall
from orchcore.safety import (
    DEFAULT_POLICY,
    ArgCheck,
    Rule,
    SafetyPolicy,
    Violation,
    check_argv,
    check_command,
    check_tool_use,
    ref_changes,
    rule_programs,
)

WORK = "/home/me/project"

BENIGN = [
    "pytest -q",
    "ls -la",
    "npm test",
    "make -j4",
    "cargo build --release",
    "ruff check . && mypy src",
    "python -m pytest -x tests/unit",
    "python3 -c \"open('ok.txt','w').write('ok')\"",
    "uv run pytest",
    "git status",
    "git status --short",
    "git diff HEAD~1",
    "git diff --cached --stat",
    "git log --oneline -5",
    "git log --grep commit",
    "git --no-pager log -p",
    "git -C sub status",
    "git show HEAD:README.md",
    "git blame src/app.py",
    "git ls-files",
    "git grep -n push",
    "git rev-parse HEAD",
    "git branch",
    "git branch --list",
    "git branch -a",
    "git branch --show-current",
    "git tag",
    "git tag -l 'v*'",
    "git stash list",
    "git stash show -p",
    "git remote -v",
    "git config --get user.name",
    "git config user.name",
    "git symbolic-ref --short HEAD",
    "git worktree list",
    "git reflog",
    "git checkout -- src/app.py",
    "git checkout src/app.py",
    "git checkout .",
    "git checkout HEAD~2 -- src/app.py",
    "git restore src/app.py",
    "rm -rf build",
    "rm -f ./notes.txt",
    "rm -rf node_modules dist",
    'rm -rf "$PWD/build"',
    "cd src && rm -rf __pycache__",
    "find . -name '*.pyc' -delete",
    "find . -type f -name '*.tmp' -exec rm {} +",
    "psql -h localhost -c 'select 1'",
    "psql -h 127.0.0.1 -d app",
    "psql postgresql://me@127.0.0.1:5432/app",
    "psql -h /var/run/postgresql app",
    "psql app",
    "alembic revision -m 'add users'",
    "alembic history",
    "npx prisma generate",
    "npx prisma migrate status",
    "supabase --version",
    "supabase db diff",
    "echo 'git push --force'",
    "grep -rn 'git commit' docs",
    "command -v git",
    "for f in *.py; do echo $f; done",
    "pytest 2>&1 | tail -5",
    "A=1 B=2 make test",
    "pytest > report.txt 2>&1",
    "ls 2>/dev/null >> out.log",
]

FORBIDDEN = [
    ("git commit -m x", "git-commit"),
    ("git -C . commit -m x", "git-commit"),
    ("cd x && git -C . commit -m y", "git-commit"),
    ("true; git push --force", "git-push"),
    ('bash -c "git push origin +main"', "git-push"),
    ("$(git commit -am x)", "git-commit"),
    ('echo "$(git commit -am x)"', "git-commit"),
    ("echo `git commit -am x`", "git-commit"),
    ("env A=1 git commit", "git-commit"),
    ("sudo -u me git push", "git-push"),
    ("echo hi > note.txt && git push --force origin main", "git-push"),
    ("/usr/bin/git commit", "git-commit"),
    ("git --git-dir=.git --work-tree=. commit", "git-commit"),
    ("git --no-pager -c user.name=x commit", "git-commit"),
    ("git -c alias.ci=commit ci -m x", "git-commit"),
    ("git -c 'alias.p=!git push' p", "git-push"),
    ("eval 'git commit -m x'", "git-commit"),
    ("sh -lc 'git push'", "git-push"),
    ("echo 'git push' | bash", "git-push"),
    ("bash <<< 'git push'", "git-push"),
    ("nohup git push &", "git-push"),
    ("time git commit", "git-commit"),
    ("command git commit", "git-commit"),
    ("exec git push", "git-push"),
    ("timeout 5 git push", "git-push"),
    ("xargs git commit -m x", "git-commit"),
    ("find . -name '*.py' -exec git add {} +", "git-add"),
    ("(cd sub; git commit)", "git-commit"),
    ("if true; then git push; fi", "git-push"),
    ("function f { git push; }; f", "git-push"),
    ("f() { git commit -m x; }", "git-commit"),
    ("for f in *.py; do git add $f; done", "git-add"),
    ("git add .", "git-add"),
    ("git push origin +main", "git-push"),
    ("git reset --hard", "git-reset"),
    ("git reset HEAD~1", "git-reset"),
    ("git rebase main", "git-rebase"),
    ("git checkout main", "git-checkout"),
    ("git checkout -b x", "git-checkout"),
    ("git switch x", "git-switch"),
    ("git merge x", "git-merge"),
    ("git tag v1", "git-tag"),
    ("git update-ref refs/heads/x HEAD", "git-update-ref"),
    ("git stash", "git-stash"),
    ("git stash push -m x", "git-stash"),
    ("git branch -D x", "git-branch"),
    ("git branch -m old new", "git-branch"),
    ("git branch new", "git-branch"),
    ("git config core.hooksPath /dev/null", "git-config"),
    ("git fetch", "git-fetch"),
    ("supabase db push", "supabase-db-push"),
    ("npx -y supabase@1.2.3 db push", "supabase-db-push"),
    ("alembic upgrade head", "alembic-upgrade"),
    ("alembic -c alembic.ini upgrade head", "alembic-upgrade"),
    ("python -m alembic upgrade head", "alembic-upgrade"),
    ("uv run alembic downgrade -1", "alembic-downgrade"),
    ("npx prisma migrate deploy", "prisma-migrate-deploy"),
    ("pnpm prisma migrate dev", "prisma-migrate-dev"),
    ("prisma migrate reset --force", "prisma-migrate-reset"),
    ("python manage.py migrate", "manage-py-migrate"),
    ("bundle exec rake db:migrate", "rake-db-migrate"),
    ("goose -dir migrations postgres dsn up", "goose-up"),
    ("dropdb app", "dropdb"),
    ("psql -h prod.example.com -c 'select 1'", "psql"),
    ("psql -hprod.example.com", "psql"),
    ("psql --host=prod.example.com app", "psql"),
    ("psql postgresql://me@db.example.com/app", "psql"),
    ("psql 'postgresql://me@localhost,db.example.com/app'", "psql"),
    ("psql 'host=db.example.com dbname=app'", "psql"),
    ("PGHOST=db.example.com psql app", "psql"),
    ("psql $DATABASE_URL", "psql"),
    ("rm -rf /abs/outside/workdir", "delete-outside-workspace"),
    ("rm -rf ~", "delete-outside-workspace"),
    ("rm -rf ..", "delete-outside-workspace"),
    ("rm -rf ../other", "delete-outside-workspace"),
    ("rm -rf .git", "delete-outside-workspace"),
    ("rm -rf .*", "delete-outside-workspace"),
    (f"rm -rf {WORK}", "delete-outside-workspace"),
    ("cd .. && rm -rf project", "delete-outside-workspace"),
    ("cd /tmp; rm -rf x", "delete-outside-workspace"),
    ('rm -rf "$HOME/x"', "delete-outside-workspace"),
    ('cd "$(mktemp -d)" && rm -rf x', "delete-outside-workspace"),
    ("find / -name x -delete", "delete-outside-workspace"),
    ("find /etc -exec rm -f {} \\;", "delete-outside-workspace"),
    ("echo 'unbalanced && git push", "git-push"),
    ("echo '[core] hooksPath = /dev/null' >> .git/config", "write-into-git-dir"),
    ("cd .git && cat x > hooks/pre-commit", "write-into-git-dir"),
]


@pytest.mark.parametrize("command", BENIGN)
def test_everyday_commands_are_allowed(command: str) -> None:
    assert check_command(DEFAULT_POLICY, command, WORK) is None


@pytest.mark.parametrize(("command", "rule"), FORBIDDEN)
def test_forbidden_operations_are_found_however_they_are_wrapped(command: str, rule: str) -> None:
    violation = check_command(DEFAULT_POLICY, command, WORK)

    assert violation is not None, command
    assert violation.rule == rule


def test_the_violation_names_the_offending_command_and_why() -> None:
    violation = check_command(DEFAULT_POLICY, "make && cd x && git -C . commit -m y", WORK)

    assert violation == Violation("git-commit", "git -C . commit -m y", violation.reason if violation else "")
    assert "never commit" in str(violation)


def test_a_violation_reads_as_one_line() -> None:
    violation = Violation("git-push", "git push \\\n  --force", "agents never push")

    assert str(violation) == "forbidden (git-push): agents never push: git push \\ --force"
    assert "\n" not in str(Violation("x", "a\n" * 500, "r"))


SEPARATORS = st.sampled_from(["; ", " && ", " || ", " | ", "\n", " & "])
WRAPPERS = st.sampled_from(
    [
        "{}",
        "cd sub && {}",
        "env A=1 {}",
        "timeout 60 {}",
        "nice -n 5 {}",
        "bash -c {quoted}",
        "sh -c {quoted}",
        "echo $({})",
        "sudo -u me {}",
        "xargs {}",
    ]
)
FORBIDDEN_CORES = st.sampled_from(
    [
        "git commit -m x",
        "git -C . commit -am x",
        "/usr/bin/git commit",
        "git --no-pager -c a.b=c push",
        "git push --force",
        "git push origin +main",
        "git add .",
        "git reset --hard",
        "git rebase main",
        "git checkout main",
        "git checkout -b x",
        "git switch x",
        "git stash",
        "git branch -D x",
        "git tag v1",
        "git update-ref refs/heads/x HEAD",
        "supabase db push",
        "alembic upgrade head",
        "npx prisma migrate deploy",
        "psql -h db.example.com",
        "dropdb app",
        "rm -rf /etc",
        "rm -rf ~",
        "rm -rf ..",
        "rm -rf .git",
    ]
)


def _wrap(template: str, command: str) -> str:
    return template.format(command, quoted=shlex.quote(command))


@given(st.lists(st.sampled_from(BENIGN), min_size=1, max_size=4), SEPARATORS, WRAPPERS)
def test_benign_commands_stay_allowed_when_combined_and_wrapped(
    commands: list[str], separator: str, wrapper: str
) -> None:
    line = separator.join(_wrap(wrapper, c) if "{}" in wrapper else c for c in commands)

    assert check_command(DEFAULT_POLICY, line, WORK) is None, line


@given(
    st.lists(st.sampled_from(BENIGN[:20]), max_size=2),
    FORBIDDEN_CORES,
    st.lists(st.sampled_from(BENIGN[:20]), max_size=2),
    SEPARATORS,
    WRAPPERS,
)
def test_a_forbidden_command_is_found_among_benign_ones_and_inside_wrappers(
    before: list[str], forbidden: str, after: list[str], separator: str, wrapper: str
) -> None:
    line = separator.join([*before, _wrap(wrapper, forbidden), *after])

    assert check_command(DEFAULT_POLICY, line, WORK) is not None, line


@given(st.text())
def test_check_command_never_raises_on_any_text(text: str) -> None:
    result = check_command(DEFAULT_POLICY, text, WORK)

    assert result is None or isinstance(result, Violation)


@given(
    st.lists(
        st.sampled_from(
            [
                "git",
                "commit",
                "-C",
                ".",
                "$(",
                ")",
                "'",
                '"',
                "`",
                "|",
                "&&",
                "bash",
                "-c",
                "eval",
                "rm",
                "-rf",
                "..",
                "~",
                "\n",
                "<<<",
                "sudo",
                "env",
                "x=1",
            ]
        ),
        max_size=16,
    )
)
def test_check_command_never_raises_on_shell_like_noise(words: list[str]) -> None:
    text = " ".join(words)

    result = check_command(DEFAULT_POLICY, text, WORK)

    assert result is None or isinstance(result, Violation)


def test_deeply_nested_commands_are_refused_rather_than_guessed() -> None:
    nested = "ls"
    for _ in range(12):
        nested = "bash -c " + shlex.quote(nested)

    for command in (nested, "echo " + "$(" * 40 + "ls" + ")" * 40):
        violation = check_command(DEFAULT_POLICY, command, WORK)
        assert violation is not None
        assert violation.rule == "uncheckable"
    assert check_command(DEFAULT_POLICY, "bash -c " + shlex.quote("bash -c ls"), WORK) is None


def test_a_disabled_policy_allows_everything() -> None:
    policy = SafetyPolicy(enabled=False)

    assert check_command(policy, "git push --force", WORK) is None
    assert check_tool_use(policy, tool_call("Write", {"file_path": "/etc/passwd"}), WORK) is None
    assert deny_rules(policy) == []
    assert rule_programs(policy) == []


def test_extra_forbidden_prefixes_come_from_the_config() -> None:
    policy = SafetyPolicy(forbidden_prefixes=("terraform apply", "kubectl delete --all"))

    assert check_command(policy, "terraform -chdir=infra apply -auto-approve", WORK) is not None
    assert check_command(policy, "terraform plan", WORK) is None
    assert check_command(policy, "kubectl delete pods --all", WORK) is not None
    assert check_command(policy, "kubectl delete pod web-1", WORK) is None
    assert "terraform" in rule_programs(policy)
    assert "Bash(terraform apply:*)" in deny_rules(policy)


def test_custom_rules_replace_the_defaults() -> None:
    policy = SafetyPolicy(rules=(Rule("no-curl", "curl", (), "no network", ArgCheck.ALWAYS),))

    assert check_command(policy, "git push", WORK) is None
    assert check_command(policy, "sudo curl https://example.com", WORK) == Violation(
        "no-curl", "curl https://example.com", "no network"
    )


def test_bad_policy_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="forbidden_prefixes"):
        SafetyPolicy(forbidden_prefixes=("'unbalanced",))
    with pytest.raises(ConfigError, match="writable_outside"):
        SafetyPolicy(writable_outside=("tmp",))
    with pytest.raises(ConfigError, match="writable_outside"):
        SafetyPolicy(writable_outside=("/",))


def test_deletes_are_allowed_below_a_writable_outside_directory() -> None:
    policy = SafetyPolicy(writable_outside=("/tmp",))

    assert check_command(policy, "rm -rf /tmp/scratch", WORK) is None
    assert check_command(policy, "rm -rf /tmp", WORK) is not None
    assert check_command(SafetyPolicy(workspace_only_deletes=False), "rm -rf /", WORK) is None


def test_a_shim_checks_an_argv_with_the_environment_it_runs_in() -> None:
    assert (
        check_argv(DEFAULT_POLICY, ["psql", "-c", "select 1"], WORK, {"PGHOST": "db.example.com"}) is not None
    )
    assert check_argv(DEFAULT_POLICY, ["psql", "-c", "select 1"], WORK, {"PGHOST": "localhost"}) is None
    assert check_argv(DEFAULT_POLICY, ["git", "commit", "-m", "a; b"], WORK) is not None
    assert check_argv(DEFAULT_POLICY, ["git", "log", "--format=$(git push)"], WORK) is None
    assert check_argv(DEFAULT_POLICY, [], WORK) is None


@pytest.mark.parametrize(
    ("tool", "tool_input", "reason"),
    [
        ("Bash", {"command": "git commit -am x"}, "never commit"),
        ("Write", {"file_path": "/etc/hosts", "content": "x"}, "write outside the workspace"),
        ("Edit", {"file_path": "../other/app.py"}, "write outside the workspace"),
        ("MultiEdit", {"file_path": "~/.bashrc"}, "write outside the workspace"),
        ("NotebookEdit", {"notebook_path": "/tmp/x.ipynb"}, "write outside the workspace"),
        ("Write", {"file_path": f"{WORK}/.git/hooks/pre-commit"}, ".git"),
        ("Edit", {"file_path": ".git/config"}, ".git"),
    ],
)
def test_tool_calls_that_cross_the_policy_are_violations(
    tool: str, tool_input: dict[str, object], reason: str
) -> None:
    violation = check_tool_use(DEFAULT_POLICY, tool_call(tool, tool_input), WORK)

    assert violation is not None
    assert reason in violation.reason


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Bash", {"command": "pytest -q", "description": "tests"}),
        ("Write", {"file_path": f"{WORK}/src/new.py", "content": "x"}),
        ("Edit", {"file_path": "src/app.py", "old_string": "a", "new_string": "b"}),
        ("NotebookEdit", {"notebook_path": f"{WORK}/nb.ipynb"}),
        ("Read", {"file_path": "/etc/hosts"}),
        ("Bash", {"command": 42}),
        ("Write", {}),
        ("WebFetch", {"url": "https://example.com"}),
    ],
)
def test_tool_calls_inside_the_workspace_are_allowed(tool: str, tool_input: dict[str, object]) -> None:
    assert check_tool_use(DEFAULT_POLICY, tool_call(tool, tool_input), WORK) is None


@given(st.text(), st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.none())))
def test_check_tool_use_never_raises(tool: str, tool_input: dict[str, object]) -> None:
    check_tool_use(DEFAULT_POLICY, tool_call(tool, tool_input), WORK)


@given(
    st.sampled_from(ToolAction),
    st.none() | st.text(),
    st.lists(st.text(), max_size=3),
)
def test_any_agents_tool_call_is_checked_without_raising(
    action: ToolAction, command: str | None, paths: list[str]
) -> None:
    call = ToolCall("c", "any_tool", action, "any_tool", command=command, paths=tuple(paths))
    check_tool_use(DEFAULT_POLICY, call, WORK)


def test_a_shell_call_is_checked_by_its_command_whatever_the_agent_calls_the_tool() -> None:
    for tool in ("Bash", "command_execution", "run_shell_command"):
        call = ToolCall("c", tool, ToolAction.SHELL, tool, command="git push --force")
        violation = check_tool_use(DEFAULT_POLICY, call, WORK)
        assert violation is not None
        assert violation.rule == "git-push"
    edit = ToolCall("c", "file_change", ToolAction.EDIT, "file_change", paths=("src/a.py", "/etc/hosts"))
    found = check_tool_use(DEFAULT_POLICY, edit, WORK)
    assert found is not None
    assert found.command == "file_change /etc/hosts"  # every path of a call is checked


def test_writes_are_allowed_where_the_policy_says() -> None:
    assert (
        check_tool_use(
            SafetyPolicy(writable_outside=("/tmp",)), tool_call("Write", {"file_path": "/tmp/a"}), WORK
        )
        is None
    )
    assert (
        check_tool_use(
            SafetyPolicy(workspace_only_writes=False), tool_call("Write", {"file_path": "/etc/x"}), WORK
        )
        is None
    )


def test_ref_changes_lists_each_moved_created_and_deleted_ref_head_first() -> None:
    a, b = "a1b2c3d" + "0" * 33, "d4e5f6a" + "1" * 33
    before = {"HEAD": a, "refs/heads/main": a, "refs/tags/v1": a}
    after = {"HEAD": b, "refs/heads/main": a, "refs/heads/x": b}

    assert ref_changes(before, after) == [
        "HEAD moved a1b2c3d -> d4e5f6a",
        "refs/heads/x created",
        "refs/tags/v1 deleted",
    ]


def test_ref_changes_shows_a_switched_branch_and_nothing_when_nothing_moved() -> None:
    before = {"HEAD": "ref: refs/heads/main", "refs/heads/main": "a" * 40}

    assert ref_changes(before, dict(before)) == []
    assert ref_changes(before, {**before, "HEAD": "ref: refs/heads/x"}) == [
        "HEAD moved refs/heads/main -> refs/heads/x"
    ]
    assert ref_changes({}, {}) == []


@given(
    st.dictionaries(st.text(min_size=1), st.text(min_size=1)),
    st.dictionaries(st.text(min_size=1), st.text(min_size=1)),
)
def test_ref_changes_is_empty_exactly_when_the_snapshots_are_equal(
    before: dict[str, str], after: dict[str, str]
) -> None:
    assert (ref_changes(before, after) == []) == (before == after)


def test_deny_rules_cover_the_plain_forms_and_the_global_option_bypass() -> None:
    rules = deny_rules(DEFAULT_POLICY)

    for expected in (
        "Bash(git commit:*)",
        "Bash(git * commit *)",
        "Bash(git push:*)",
        "Bash(git * push *)",
        "Bash(git add:*)",
        "Bash(git reset --hard:*)",
        "Bash(git checkout -b:*)",
        "Bash(git branch -D:*)",
        "Bash(supabase db push:*)",
        "Bash(alembic upgrade:*)",
        "Bash(prisma migrate deploy:*)",
        "Bash(rake db:migrate:*)",
        "Bash(dropdb:*)",
    ):
        assert expected in rules
    assert len(rules) == len(set(rules))
    assert all(r.startswith("Bash(") and r.endswith(")") for r in rules)
    # read-only forms must stay usable: nothing denies git stash list, git status or psql itself
    assert not any(r.startswith(("Bash(git stash", "Bash(git status", "Bash(psql")) for r in rules)


def test_rule_programs_name_what_the_shims_must_cover() -> None:
    programs = rule_programs(DEFAULT_POLICY)

    assert {"git", "psql", "supabase", "alembic", "prisma", "dropdb"} <= set(programs)
    assert programs == sorted(programs)


# --------------------------------------------------------------------------- the shell grammar

HIDDEN = [
    # command substitution, however deeply quoted
    ('echo "a $(echo "b $(git push)")"', "git-push"),
    ('x="$(git commit -m x)"', "git-commit"),
    ("VAR=$(git push) make", "git-push"),
    ("[[ -n $(git push) ]]", "git-push"),
    ("case $(git push) in *) ;; esac", "git-push"),
    # here-documents and here-strings fed to a shell, or expanded
    ("bash <<EOF\ngit push\nEOF", "git-push"),
    ("cat <<EOF | sh\ngit commit -m x\nEOF", "git-commit"),
    ("cat <<EOF\n$(git push)\nEOF", "git-push"),
    ("cat <<EOF\n`git add .`\nEOF", "git-add"),
    ("sh <<< 'git push'", "git-push"),
    # process substitution, subshells, groups, pipelines, lists, newlines
    ("diff <(git push) x", "git-push"),
    ("cat < <(git commit -m x)", "git-commit"),
    ("tee >(git add .) < x", "git-add"),
    ("( git push )", "git-push"),
    ("{ git push; }", "git-push"),
    ("ls | git commit -F -", "git-commit"),
    ("false || git push", "git-push"),
    ("ls\ngit push", "git-push"),
    ("while true; do git push; done", "git-push"),
    # wrappers
    ("xargs git commit", "git-commit"),
    ("find . -exec git commit {} \\;", "git-commit"),
    ("env git commit", "git-commit"),
    ("command git commit", "git-commit"),
    ("sudo git push", "git-push"),
    ("nohup git push", "git-push"),
    ("timeout 5 git push", "git-push"),
    ("exec -a x git push", "git-push"),
    # quoting that spells the program's name
    ("g\\it commit", "git-commit"),
    ("'git' push", "git-push"),
    ('"gi"t push', "git-push"),
    ("$'\\x67it' commit", "git-commit"),
    ("$HOME/bin/git push", "git-push"),
    ('"${PREFIX}/bin/git" commit -m x', "git-commit"),
    # builtins that run text later or elsewhere
    ("alias g=git; g push", "git-push"),
    ('trap "git push" EXIT', "git-push"),
    ("coproc git push", "git-push"),
]

UNRESOLVABLE = [
    "git $(echo commit)",
    "g=git; $g commit",
    "`echo git` commit",
    "$(echo git) push",
    "$(echo /usr/bin/git) push",
    "$HOME/$TOOL push",
    "$HOME/bin/g* push",
    '"$GIT" push',
    "sudo $g push",
    "env A=1 $g push",
    "xargs $g push",
    "git `echo push`",
    'git "${SUB}"',
    "alembic $(echo upgrade) head",
    'eval "$cmd"',
    "eval git $(echo commit)",
    'bash -c "$script"',
    'echo "$cmd" | sh',
    'sh <<< "$cmd"',
    "/usr/bin/g?t push",
    "git {commit,-m,x}",
    "if then fi (",
    "source <(echo git push)",
    ". <(curl -s https://example.com/x.sh)",
    "bash <(echo git push)",
    "xargs -I{} git {} <<< push",
    "parallel git ::: push",
]

STILL_ALLOWED = [
    "bash -c 'for f in *; do echo $f; done'",
    "sh -c 'echo $0' x",
    'echo "$HOME" "$(date)"',
    "cat <<'EOF'\n$(git push)\nEOF",
    "grep -r '$(git push)' .",
    "git log --format='%H $(x)'",
    "diff <(ls a) <(ls b)",
    "VAR=$(git rev-parse HEAD) make",
    "[[ -f x ]] && echo yes",
    'for f in $(ls); do echo "$f"; done',
    "ls\n\npytest -q",
    "cat <<EOF > notes.md\nhello $USER\nEOF",
    '"$HOME/.local/bin/uv" run pytest',
    "${VIRTUAL_ENV}/bin/python -m pytest",
]


@pytest.mark.parametrize(("command", "rule"), HIDDEN)
def test_a_forbidden_command_is_found_wherever_the_shell_grammar_puts_it(command: str, rule: str) -> None:
    violation = check_command(DEFAULT_POLICY, command, WORK)

    assert violation is not None, command
    assert violation.rule == rule, violation


@pytest.mark.parametrize("command", UNRESOLVABLE)
def test_what_the_shell_only_knows_at_run_time_is_denied_and_says_so(command: str) -> None:
    violation = check_command(DEFAULT_POLICY, command, WORK)

    assert violation is not None, command
    assert violation.rule == "uncheckable", violation
    assert "run time" in violation.reason or "parse" in violation.reason, violation.reason


@pytest.mark.parametrize("command", STILL_ALLOWED)
def test_expansions_that_do_not_choose_the_command_stay_allowed(command: str) -> None:
    assert check_command(DEFAULT_POLICY, command, WORK) is None


@settings(max_examples=1000)  # tree-sitter is C: crashes hide in rare inputs
@given(st.binary(max_size=200))
def test_check_command_never_raises_on_any_bytes(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")

    result = check_command(DEFAULT_POLICY, text, WORK)

    assert result is None or isinstance(result, Violation)


def test_characters_that_crash_tree_sitter_bash_are_checked_without_crashing() -> None:
    # tree-sitter-bash 0.25 segfaults now and then on `{` before some astral characters
    for text in ("{\U000e0000", "{\U0010ffff", "Ð{\U000c716ao\x0f1\x10!I\x94", "\ud800{\udfff"):
        for _ in range(1500):
            check_command(DEFAULT_POLICY, text, WORK)
    violation = check_command(DEFAULT_POLICY, "echo {\U000e0000 && rm -rf 'dönnées/../../x'", WORK)
    assert violation is not None
    assert violation.command == "rm -rf 'dönnées/../../x'"


CONTEXTS = st.sampled_from(
    [
        'echo "$({})"',
        "x=$({})",
        "diff <({}) expected.txt",
        "( {} )",
        "{{ {}; }}",
        "if true; then {}; fi",
        "f() {{ {}; }}",
        "cat <<EOF | sh\n{}\nEOF",
        "bash <<'EOF'\n{}\nEOF",
        "ls | {}",
        "false || {}",
        "true\n{}",
        "echo `{}`",
    ]
)


@given(st.sampled_from(BENIGN[:20]), FORBIDDEN_CORES, CONTEXTS, SEPARATORS)
def test_a_forbidden_command_is_found_in_any_grammatical_context(
    benign: str, forbidden: str, context: str, separator: str
) -> None:
    line = separator.join([benign, context.format(forbidden)])

    violation = check_command(DEFAULT_POLICY, line, WORK)

    assert violation is not None, line
    assert violation.rule != "uncheckable", (line, violation)


def test_the_core_says_forbidden_commands_in_no_agents_syntax() -> None:
    """Permission-rule syntax is the adapter's: the core gives plain patterns, each CLI its own form."""
    from orchcore.safety import command_patterns

    patterns = command_patterns(DEFAULT_POLICY)
    assert "git commit *" in patterns
    assert "git * commit *" in patterns
    assert not any("Bash(" in p or ":*" in p for p in patterns)
    assert "Bash(git commit:*)" in deny_rules(DEFAULT_POLICY)


REDIRECTS_OUTSIDE = [
    "echo x > /etc/motd",
    "echo x >> ../sibling/notes.txt",
    "printf x 2>/var/log/app.err",
    "make &> /opt/build.log",
    "echo hi > ~/.bashrc",
    "cd / && echo x > etc/hosts",
    "echo x > sub/../../escape.txt",
    "exec 3>/etc/passwd",
    "cat <<EOF > /etc/cron.d/job\n* * * * * root sh\nEOF",
    'bash -c "echo x > /etc/y"',
    "(echo x > /srv/z)",
    "echo $(echo a > /root/q)",
]

REDIRECTS_INSIDE = [
    "echo x > notes.txt",
    "echo x > /home/me/project/a/b.txt",
    "pytest > /tmp/pytest.log 2>&1",
    "ls 2>/dev/null",
    "cmd > /dev/stderr",
    "echo x > /dev/fd/2",
    "cd sub && echo x > out.txt",
    'echo x > "$OUT"',  # known only at run time: the sandbox keeps it in bounds
]


@pytest.mark.parametrize("command", REDIRECTS_OUTSIDE)
def test_a_shell_redirect_that_writes_outside_the_workspace_is_refused(command: str) -> None:
    violation = check_command(DEFAULT_POLICY, command, WORK)

    assert violation is not None, command
    assert violation.rule == "write-outside-workspace", violation


@pytest.mark.parametrize("command", REDIRECTS_INSIDE)
def test_a_shell_redirect_into_the_workspace_tmp_or_a_standard_stream_is_allowed(command: str) -> None:
    assert check_command(DEFAULT_POLICY, command, WORK) is None


def test_a_redirect_outside_is_allowed_where_the_policy_allows_writes_or_leaves_writes_alone() -> None:
    allowing = SafetyPolicy(writable_outside=("/var/log",))
    lenient = SafetyPolicy(workspace_only_writes=False)

    assert check_command(allowing, "printf x 2>/var/log/app.err", WORK) is None
    assert check_command(lenient, "echo x > /etc/motd", WORK) is None
    assert check_command(lenient, "echo x > .git/config", WORK) is not None  # the git dir always
