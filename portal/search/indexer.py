"""The one writer: drains the search outbox into the backend, rebuilds, and runs as a thread or a command.

Services add an outbox row in the same transaction as the change (`enqueue`). The indexer reads a batch, writes
the backend, and only then deletes those rows, so a killed process loses nothing: the rows are applied again
(writes are idempotent). A file lock keeps to one writer per index directory across gunicorn workers.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.models import Department, Question, SearchOutbox
from portal.models.question import PUBLISHED
from portal.search import IndexDocument
from portal.search.analysis import ANALYZER, add_user_words, load_dictionary_file
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
BATCH = 500
POLL_SECONDS = 0.5


def enqueue(session: Session, question_id: int) -> None:
    """Ask for the question's index entry to be rewritten (or removed) after this transaction commits."""
    session.add(SearchOutbox(question_id=question_id))


def _document(q: Question) -> IndexDocument:
    dept = q.reply.department if q.reply and q.reply.department else q.department
    return IndexDocument(
        question_id=q.id,
        number=q.number or "",
        title=q.title,
        body=q.body,
        reply=q.reply.body_md if q.reply else "",
        department=dept.slug if dept else "",
        department_name=dept.name if dept else "",
        category=q.category or "",
        published_at=q.published_at or q.received_at,
    )


def documents(session: Session, ids: list[int]) -> tuple[list[IndexDocument], list[int]]:
    """Index documents for the public questions among `ids`; the rest are to be removed."""
    found = {q.id: q for q in session.scalars(select(Question).where(Question.id.in_(ids)))}
    upserts = [_document(q) for q in found.values() if q.is_public]
    deletes = [qid for qid in ids if qid not in found or not found[qid].is_public]
    return upserts, deletes


def all_documents(session: Session, batch: int = 1000) -> Iterator[IndexDocument]:
    """Every public question, streamed in id order."""
    last = 0
    while True:
        rows = session.scalars(
            select(Question)
            .where(Question.status == PUBLISHED, Question.hidden_at.is_(None), Question.id > last)
            .order_by(Question.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for q in rows:
            if q.is_public:
                yield _document(q)
        last = rows[-1].id
        session.expunge_all()


def load_user_dictionary(session: Session, content_dir: Path) -> None:
    """Department names and content/dict.txt (place names …) stay whole when segmented."""
    names = session.scalars(select(Department.name)).all()
    add_user_words(names)
    add_user_words(n.removeprefix("云溪县") for n in names)
    load_dictionary_file(content_dir / "dict.txt")


@contextmanager
def writer_lock(root: str, blocking: bool) -> Iterator[bool]:
    """An exclusive lock on `root/indexer.lock`; yields whether it was obtained."""
    Path(root).mkdir(parents=True, exist_ok=True)
    fd = os.open(os.path.join(root, "indexer.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


DRAIN_LOCK = 0x5E_A4C5  # PostgreSQL advisory lock key: one drainer across every app server


@contextmanager
def database_lock(session: Session, blocking: bool) -> Iterator[bool]:
    """On PostgreSQL, a session-level advisory lock on a dedicated connection, so drainers on several servers
    never read a question's state and write it to the shared index out of order. Elsewhere a no-op."""
    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        yield True
        return
    from sqlalchemy import text

    with engine.connect() as conn:
        if blocking:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": DRAIN_LOCK})
            got = True
        else:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": DRAIN_LOCK}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": DRAIN_LOCK})
                conn.commit()


def drain(session: Session, backend, root: str, blocking: bool = True, limit: int | None = None) -> int:
    """Apply pending outbox rows to the backend; returns how many rows were applied."""
    applied = 0
    with writer_lock(root, blocking) as got, database_lock(session, blocking) as got_db:
        if not (got and got_db):
            return 0
        while limit is None or applied < limit:
            rows = session.execute(select(SearchOutbox.id, SearchOutbox.question_id).order_by(SearchOutbox.id)
                                   .limit(BATCH)).all()
            if not rows:
                break
            ids = sorted({qid for _, qid in rows})
            upserts, deletes = documents(session, ids)
            backend.apply(upserts, deletes)
            session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_([rid for rid, _ in rows])))
            session.commit()
            applied += len(rows)
    session.rollback()
    return applied


def count_public(session: Session) -> int:
    """How many questions a rebuild will index at most (published and not hidden)."""
    return session.scalar(
        select(func.count(Question.id)).where(Question.status == PUBLISHED, Question.hidden_at.is_(None))
    ) or 0


def _counted(stream: Iterator[IndexDocument], progress: Callable[[int], None], every: int) -> Iterator[IndexDocument]:
    done = 0
    for doc in stream:
        yield doc
        done += 1
        if done % every == 0:
            progress(done)
    progress(done)


def _rebuild_locked(session: Session, backend, progress: Callable[[int], None] | None = None) -> int:
    started = utcnow()
    stream = all_documents(session)
    if progress is not None:
        stream = _counted(stream, progress, 200)
    count = backend.rebuild(None, stream=stream)
    # Anything changed while the new index was being written is applied again by the next drain.
    changed = session.scalars(select(Question.id).where(Question.updated_at >= started - timedelta(seconds=5)))
    for qid in changed:
        enqueue(session, qid)
    session.commit()
    return count


def rebuild(session: Session, backend, root: str, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the whole index from the database and swap it in; changes made meanwhile are re-queued.

    `progress`, when given, is called with the number of documents written so far (every 200 and at the end).
    """
    with writer_lock(root, blocking=True):
        return _rebuild_locked(session, backend, progress)


def rebuild_if_missing(session: Session, backend, root: str) -> int | None:
    """Rebuild when the index is missing or unreadable and no other process is writing; the count, or None."""
    with writer_lock(root, blocking=False) as got:
        if got and not backend.ready():
            return _rebuild_locked(session, backend)
    return None


def rebuild_if_stale(session: Session, backend, root: str) -> int | None:
    """Rebuild when another segmenter or other rules built the index and no other process is writing; the count,
    or None. Meanwhile the old index still answers (most words are segmented alike)."""
    with writer_lock(root, blocking=False) as got:
        if got and backend.ready() and (reason := backend.stale()):
            log.warning("%s: rebuilding", reason)
            return _rebuild_locked(session, backend)
    return None


class IndexerThread(threading.Thread):
    """Per-process background indexer: rebuilds a missing index, then drains the outbox every half second."""

    def __init__(self, app: Flask):
        super().__init__(name="search-indexer", daemon=True)
        self.app = app
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        from portal.extensions import db
        from portal.search import backend as current_backend

        with self.app.app_context():
            root = self.app.config["SEARCH_INDEX_DIR"]
            # Checked when the process starts, until the index is current (this or another process rebuilt it):
            # during a rolling upgrade an old worker must not rebuild what a new one built (and back again).
            check_analyzer = True
            while not self.stopping.is_set():
                try:
                    search = current_backend()
                    if check_analyzer and search.ready():
                        if search.stale() is None:
                            check_analyzer = False
                        elif (count := rebuild_if_stale(db.session, search, root)) is not None:
                            check_analyzer = False
                            log.warning("search index rebuilt for %s: %d documents", ANALYZER, count)
                    if not search.ready():
                        count = rebuild_if_missing(db.session, search, root)
                        if count is not None:
                            log.warning("search index was missing or unreadable: rebuilt, %d documents", count)
                    if search.ready():
                        drain(db.session, search, root, blocking=False)
                except Exception:  # noqa: BLE001 - the indexer must survive a bad batch and retry
                    log.exception("search indexer pass failed; retrying")
                    db.session.rollback()
                finally:
                    db.session.remove()
                self.wake.wait(POLL_SECONDS)
                self.wake.clear()


_thread_lock = threading.Lock()
_threads: dict[int, IndexerThread] = {}


def ensure_thread(app: Flask) -> None:
    """Start this process's indexer thread once (after gunicorn forks the worker)."""
    pid = os.getpid()
    if pid in _threads:
        return
    with _thread_lock:
        if pid not in _threads:
            thread = IndexerThread(app)
            _threads[pid] = thread
            thread.start()


def stop_threads(timeout: float = 5.0) -> None:
    """Stop this process's indexer thread (tests, and a clean shutdown)."""
    with _thread_lock:
        threads = list(_threads.values())
        _threads.clear()
    for thread in threads:
        thread.stopping.set()
        thread.wake.set()
        thread.join(timeout)
