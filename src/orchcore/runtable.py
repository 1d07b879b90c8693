"""The task runs of a session as an immutable mapping that shares structure between versions.

A snapshot's runs change a few at a time (a step touches one task), so copying a
dict of every run per transaction made a step cost O(plan). A ``RunTable`` keeps
the runs in file order in fixed-size chunks: ``updated`` copies only the chunks
it touches plus the list of chunks, and ``changed_from`` finds what differs
from an older version of the same table by chunk identity, not by comparing
every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from orchcore.records import TaskRun

#: Runs per chunk: an update copies one chunk and the list of chunks (N / CHUNK pointers).
CHUNK = 64


class RunTable(Mapping[str, TaskRun]):
    """Task id -> TaskRun, in the order the runs were given; never changes once built.

    Every version made from one table by ``updated`` shares its key index, so the
    keys are fixed at construction: a session's tasks never change.
    """

    __slots__ = ("_chunk", "_chunks", "_ids", "_index")

    _index: dict[str, int]
    _ids: tuple[str, ...]
    _chunks: tuple[tuple[TaskRun, ...], ...]
    _chunk: int

    def __init__(self, runs: Iterable[TaskRun] = (), *, chunk: int = CHUNK) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1, got {chunk}")
        index: dict[str, int] = {}
        values: list[TaskRun] = []
        for run in runs:  # a repeated id keeps its first place and its last run, as in a dict
            at = index.setdefault(run.task_id, len(values))
            if at == len(values):
                values.append(run)
            else:
                values[at] = run
        self._index = index
        self._ids = tuple(index)
        self._chunk = chunk
        self._chunks = tuple(tuple(values[i : i + chunk]) for i in range(0, len(values), chunk))

    @classmethod
    def of(cls, runs: Mapping[str, TaskRun]) -> RunTable:
        """``runs`` as a table (itself if it is one already)."""
        return runs if isinstance(runs, RunTable) else cls(runs.values())

    def _derived(self, chunks: tuple[tuple[TaskRun, ...], ...]) -> RunTable:
        table = RunTable.__new__(RunTable)
        table._index, table._ids, table._chunk, table._chunks = self._index, self._ids, self._chunk, chunks
        return table

    def updated(self, runs: Iterable[TaskRun]) -> RunTable:
        """A new table with ``runs`` replacing those of the same task ids (the last one wins).

        KeyError if a run's task is not in the table.
        """
        size = self._chunk
        touched: dict[int, list[TaskRun]] = {}
        for run in runs:
            at = self._index[run.task_id]
            number, offset = divmod(at, size)
            chunk = touched.get(number)
            if chunk is None:
                chunk = touched[number] = list(self._chunks[number])
            chunk[offset] = run
        if not touched:
            return self
        chunks = list(self._chunks)
        for number, chunk in touched.items():
            chunks[number] = tuple(chunk)
        return self._derived(tuple(chunks))

    def changed_from(self, older: Mapping[str, TaskRun]) -> list[str] | None:
        """Ids whose run differs in ``older``, in table order; None if the key sets differ.

        O(changed chunks) when ``older`` is an earlier version of this table, else O(runs).
        """
        if isinstance(older, RunTable) and older._index is self._index and older._chunk == self._chunk:
            ids = self._ids
            found: list[str] = []
            size = self._chunk
            for number, (mine, theirs) in enumerate(zip(self._chunks, older._chunks, strict=True)):
                if mine is theirs:
                    continue
                for offset, (a, b) in enumerate(zip(mine, theirs, strict=True)):
                    if a is not b and a != b:
                        found.append(ids[number * size + offset])
            return found
        if len(older) != len(self) or any(task_id not in older for task_id in self._index):
            return None
        return [task_id for task_id, run in self.items() if older[task_id] != run]

    def __getitem__(self, task_id: str) -> TaskRun:
        at = self._index[task_id]
        return self._chunks[at // self._chunk][at % self._chunk]

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunTable) and other._index is self._index and other._chunk == self._chunk:
            return other._chunks == self._chunks
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping: equal to dicts, so not hashable

    def __repr__(self) -> str:
        return f"RunTable({dict(self.items())!r})"


def with_runs(runs: Mapping[str, TaskRun], changed: Iterable[TaskRun]) -> Mapping[str, TaskRun]:
    """``runs`` with ``changed`` in place of the runs of their tasks (the last one wins);
    structure is shared when ``runs`` is a table and knows every task, else it is a new dict."""
    changed = tuple(changed)
    if isinstance(runs, RunTable) and all(run.task_id in runs for run in changed):
        return runs.updated(changed)
    return {**runs, **{run.task_id: run for run in changed}}
