"""The quality gates over an attempt's evidence: checks, tests kept, scope, forbidden paths, schema
drops and secrets."""

from __future__ import annotations

from orchcore.supervise import GateConfig, GateResult, Remedy, run_gates
from orchcore.tasks import Task
from tests.unit.supervise.build import added_file, check, evidence

TASK = Task("1", "Add slugify", type="feature")


def _gate(results: tuple[GateResult, ...], name: str) -> GateResult:
    return next(r for r in results if r.name == name)


def _edit(path: str, removed: list[str], added: list[str], start: int = 1) -> str:
    body = "".join(f"-{line}\n" for line in removed) + "".join(f"+{line}\n" for line in added)
    return (
        f"diff --git a/{path} b/{path}\nindex 1..2 100644\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -{start},{len(removed)} +{start},{len(added)} @@\n{body}"
    )


def test_each_check_is_a_gate_with_its_exit_code_counts_and_output_tail() -> None:
    output = (
        "F..\nFAILED tests/test_slug.py::test_unicode - AssertionError\n=== 1 failed, 2 passed in 0.1s ==="
    )
    results = run_gates(
        TASK, evidence(TASK, diff=added_file("a.py", "x = 1"), checks=[check("pytest -q", 1, output)])
    )
    gate = _gate(results, "check:pytest -q")
    assert not gate.passed
    assert gate.detail == "exited 1 (2 passed, 1 failed)"
    assert "test_unicode" in gate.output_tail
    assert gate.remedy is Remedy.RETRY


def test_a_check_past_its_timeout_fails_even_with_exit_code_zero() -> None:
    results = run_gates(
        TASK, evidence(TASK, checks=[check("npm test", None, "", timed_out=True, duration_s=120)])
    )
    assert _gate(results, "check:npm test").detail == "timed out after 120s"


def test_fewer_tests_than_before_fails_tests_kept() -> None:
    pytest_check = check("pytest -q", 0, "8 passed in 0.1s", before="10 passed in 0.1s")
    gate = _gate(run_gates(TASK, evidence(TASK, checks=[pytest_check])), "tests-kept")
    assert not gate.passed
    assert "ran 8 tests, 10 before" in gate.detail


def test_more_skipped_tests_than_before_fails_tests_kept() -> None:
    pytest_check = check("pytest -q", 0, "8 passed, 2 skipped in 0.1s", before="10 passed in 0.1s")
    gate = _gate(run_gates(TASK, evidence(TASK, checks=[pytest_check])), "tests-kept")
    assert "skipped 2 tests, 0 before" in gate.detail


def test_a_skip_marker_added_to_a_test_file_fails_tests_kept() -> None:
    diff = _edit(
        "tests/test_slug.py",
        ["def test_unicode():"],
        ['@pytest.mark.skip(reason="flaky")', "def test_unicode():"],
    )
    gate = _gate(run_gates(TASK, evidence(TASK, diff=diff)), "tests-kept")
    assert not gate.passed
    assert "skip marker added" in gate.detail


def test_a_deleted_test_function_fails_tests_kept_but_a_renamed_one_does_not() -> None:
    deleted = _edit("tests/test_slug.py", ["def test_unicode():", "    assert slugify('é') == 'e'"], [])
    assert (
        "1 tests deleted: test_unicode"
        in _gate(run_gates(TASK, evidence(TASK, diff=deleted)), "tests-kept").detail
    )
    renamed = _edit("tests/test_slug.py", ["def test_unicod():"], ["def test_unicode():"])
    assert _gate(run_gates(TASK, evidence(TASK, diff=renamed)), "tests-kept").passed


def test_a_jest_test_removed_from_a_spec_file_is_caught() -> None:
    diff = _edit(
        "src/slug.spec.ts", ["it('keeps digits', () => {", "  expect(slugify('a1')).toBe('a1');", "});"], []
    )
    assert not _gate(run_gates(TASK, evidence(TASK, diff=diff)), "tests-kept").passed


def test_changes_outside_the_task_types_scope_fail_scope() -> None:
    config = GateConfig(scope_by_type={"feature": ("src/**", "tests/**")})
    diff = added_file("src/slug.py", "x = 1") + added_file("deploy/prod.yaml", "replicas: 3")
    gate = _gate(run_gates(TASK, evidence(TASK, diff=diff), config), "scope")
    assert not gate.passed
    assert "deploy/prod.yaml" in gate.detail
    assert "src/slug.py" not in gate.detail


def test_a_deliverable_is_always_in_scope_and_no_scope_means_unrestricted() -> None:
    task = Task("1", "Docs", type="feature", deliverables=("docs/slug.md",))
    config = GateConfig(scope_by_type={"*": ("src/**",)})
    assert _gate(
        run_gates(task, evidence(task, diff=added_file("docs/slug.md", "# Slugs")), config), "scope"
    ).passed
    assert _gate(run_gates(TASK, evidence(TASK, diff=added_file("anything/x.txt", "x"))), "scope").passed


def test_editing_a_merged_migration_needs_a_human() -> None:
    diff = _edit("app/migrations/0003_users.py", ["    max_length=100,"], ["    max_length=200,"])
    gate = _gate(run_gates(TASK, evidence(TASK, diff=diff)), "forbidden-paths")
    assert not gate.passed
    assert gate.remedy is Remedy.REVIEW
    assert "edited existing app/migrations/0003_users.py" in gate.detail


def test_a_dropped_column_needs_a_human_wherever_it_is_written() -> None:
    for path, line in [
        ("db/schema.sql", "ALTER TABLE users DROP COLUMN email;"),
        ("alembic/versions/ab12_drop.py", "    op.drop_column('users', 'email')"),
        ("app/migrations/0004.py", "        migrations.RemoveField(model_name='user', name='email'),"),
    ]:
        gate = _gate(run_gates(TASK, evidence(TASK, diff=added_file(path, line))), "destructive-schema")
        assert (gate.passed, gate.remedy) == (False, Remedy.REVIEW), path
        assert f"{path}:1" in gate.detail


def test_dropping_an_index_or_a_constraint_is_not_a_schema_drop() -> None:
    diff = added_file(
        "db/x.sql", "ALTER TABLE users DROP CONSTRAINT users_email_key;\nDROP INDEX idx_users_email;"
    )
    assert _gate(run_gates(TASK, evidence(TASK, diff=diff)), "destructive-schema").passed


def test_a_secret_written_to_a_file_needs_a_human_and_is_never_shown() -> None:
    key = "AKIAZ3MKQ7PD2LX4NW6B"
    token = "8f3kD92jfLq0ZmX7pQ1wTz"  # noqa: S105 - a made-up credential the gate must find
    diff = added_file("src/settings.py", f'AWS_ACCESS_KEY_ID = "{key}"\nAPI_TOKEN = "{token}"\nDEBUG = True')
    gate = _gate(run_gates(TASK, evidence(TASK, diff=diff)), "no-secrets")
    assert (gate.passed, gate.remedy) == (False, Remedy.REVIEW)
    assert "src/settings.py:1: AWS access key" in gate.output_tail
    assert "src/settings.py:2: secret-like value" in gate.output_tail
    shown = str(gate.as_data())
    assert key not in shown
    assert token not in shown


def test_reading_a_secret_from_the_environment_or_a_placeholder_is_not_a_leak() -> None:
    text = 'API_TOKEN = os.environ["API_TOKEN"]\npassword = "changeme-please"\nDB_URL: "${DATABASE_URL}"\ntoken = "<your token>"'
    assert _gate(run_gates(TASK, evidence(TASK, diff=added_file("src/config.py", text))), "no-secrets").passed


def test_gates_run_in_the_documented_order() -> None:
    results = run_gates(TASK, evidence(TASK, checks=[check("ruff check", 0), check("pytest -q", 0)]))
    assert [r.name for r in results] == [
        "check:ruff check",
        "check:pytest -q",
        "tests-kept",
        "scope",
        "forbidden-paths",
        "destructive-schema",
        "no-secrets",
    ]


def test_a_secret_at_the_end_of_a_long_minified_line_is_found_without_hanging() -> None:
    # a bundle's single line of ~200 KB: the scanner must read it in linear time, not for minutes
    line = "var a.b.c=" + "x.y-" * 50_000 + ';var apiToken="Zq8vL2mN9xR4tW7kP3sJ";'
    gate = _gate(run_gates(TASK, evidence(TASK, diff=added_file("web/dist/app.min.js", line))), "no-secrets")
    assert "web/dist/app.min.js:1: secret-like value" in gate.output_tail


def test_a_deliverable_written_with_a_dot_slash_is_still_in_scope() -> None:
    task = Task("1", "Docs", type="feature", deliverables=("./docs/slug.md",))
    config = GateConfig(scope_by_type={"*": ("src/**",)})
    assert _gate(
        run_gates(task, evidence(task, diff=added_file("docs/slug.md", "# Slugs")), config), "scope"
    ).passed


def test_a_checkpoint_change_becomes_a_changed_file_with_its_status() -> None:
    from orchcore.ports.checkpoints import FileChange
    from orchcore.supervise import FileStatus, changed_file

    assert changed_file(FileChange("a.py", None, "h1"), lines_added=3).status is FileStatus.ADDED
    assert changed_file(FileChange("a.py", "h0", "h1")).status is FileStatus.MODIFIED
    gone = changed_file(FileChange("a.py", "h0", None), lines_removed=4)
    assert (gone.status, gone.sha, gone.lines_removed) == (FileStatus.DELETED, "h0", 4)
