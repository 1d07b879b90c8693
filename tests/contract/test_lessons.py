"""The LessonStore contract on the SQLite store (a real file, reopened) and the in-memory one."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.memory.lessons import InMemoryLessonStore
from adapters.sqlite.lessons import SqliteLessonStore
from orchcore.ports.lessons import LessonStore
from orchcore.testing.contracts import LessonStoreContract, LessonStoreFactory


class TestSqliteLessonStore(LessonStoreContract):
    @pytest.fixture
    def make_lesson_store(self, tmp_path: Path) -> LessonStoreFactory:
        paths: dict[int, Path] = {}

        def make(reopen_of: LessonStore | None = None) -> LessonStore:
            path = paths[id(reopen_of)] if reopen_of is not None else tmp_path / f"orch-{len(paths)}.db"
            if reopen_of is not None:
                reopen_of.close()
            store = SqliteLessonStore(path)
            paths[id(store)] = path
            return store

        return make


class TestInMemoryLessonStore(LessonStoreContract):
    @pytest.fixture
    def make_lesson_store(self) -> LessonStoreFactory:
        def make(reopen_of: LessonStore | None = None) -> LessonStore:
            if reopen_of is not None:
                pytest.skip("nothing persists in memory")
            return InMemoryLessonStore()

        return make
