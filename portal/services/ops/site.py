"""The public content version and the crisis switches (one row, `site_version`).

Every flush that changes public content bumps `version` in the same transaction (a session hook, so no
service can forget it): incidents, updates and their editions, departments, replies, questions other than
a fresh submission, and the switches themselves. Scheduled updates become visible by time, not by a write,
so the token that keys caches and ETags also carries the newest `publish_at` that has passed.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import event, func, inspect, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import ValidationFailed
from portal.models import (
    Attachment,
    Conference,
    Department,
    DirectoryEntry,
    Incident,
    Question,
    Release,
    ReleaseEdition,
    Reply,
    SiteState,
    StaffUser,
    Update,
    UpdateEdition,
)
from portal.models.question import PUBLISHED
from portal.services import audit
from portal.timeutil import utcnow

PUBLIC_TYPES = (
    Incident, Update, UpdateEdition, Department, SiteState,
    Release, ReleaseEdition, Attachment, Conference, DirectoryEntry,
)
# Columns of public objects that no public page shows.
BOOKKEEPING = frozenset({"notified_at"})
_BUMPED = "site_version_bumped"
_listeners: list = []  # callables run after a commit that bumped the version (same process)


@dataclass(frozen=True)
class SiteToken:
    """What a cached page depends on: the content version, the newest due scheduled time, the crisis switches."""

    version: int
    due_marker: str
    crisis_mode: bool
    intake_paused: bool

    @property
    def key(self) -> str:
        return f"{self.version}.{self.due_marker}.{int(self.crisis_mode)}"


def _history_has(obj, attr: str, wanted) -> bool:
    hist = inspect(obj).attrs[attr].history
    return any(v == wanted for v in chain(hist.added or (), hist.unchanged or (), hist.deleted or ()))


def _changed(obj, attr: str) -> bool:
    return inspect(obj).attrs[attr].history.has_changes()


def is_public_change(session: Session, obj) -> bool:
    """True when flushing `obj` changes what anonymous readers see."""
    if isinstance(obj, Question):
        # A citizen's new question (received, unpublished) is not public content and must not empty the caches.
        if obj in session.new:
            return obj.status == PUBLISHED
        return obj in session.deleted or _history_has(obj, "status", PUBLISHED) or _changed(obj, "duplicate_of_id")
    if isinstance(obj, Reply):
        # A draft saved before publication is not public either.
        return obj.published_at is not None or _changed(obj, "published_at") or obj in session.deleted
    if not isinstance(obj, PUBLIC_TYPES):
        return False
    if obj in session.new or obj in session.deleted:
        return True
    # Marking an update or a release as announced (mail sent, hub pinged) right after its publication changes
    # nothing a reader sees: it must not empty every cache a second time.
    state = inspect(obj)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    return not changed or not changed <= BOOKKEEPING


def public_changes(session: Session):
    """The objects about to be flushed whose change readers will see."""
    for obj in chain(session.new, session.deleted):
        if is_public_change(session, obj):
            yield obj
    for obj in session.dirty:
        if session.is_modified(obj) and is_public_change(session, obj):
            yield obj


def _touches_public(session: Session) -> bool:
    return next(public_changes(session), None) is not None


def bump(session: Session) -> None:
    """Increment the content version inside the session's transaction (creating the row if missing)."""
    conn = session.connection()
    table = SiteState.__table__
    done = conn.execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1, changed_at=utcnow()))
    if done.rowcount == 0:
        conn.execute(table.insert().values(id=1, version=1, changed_at=utcnow(), crisis_mode=False,
                                           intake_paused=False))
    session.info[_BUMPED] = True


def _before_flush(session: Session, flush_context, instances) -> None:  # noqa: ARG001
    # Once per transaction is enough: no one sees the new version before the commit.
    if not session.info.get(_BUMPED) and _touches_public(session):
        bump(session)


def _after_commit(session: Session) -> None:
    if session.info.pop(_BUMPED, False):
        for ref in list(_listeners):
            callback = ref()
            if callback is None:
                _listeners.remove(ref)
            else:
                callback()


def _after_rollback(session: Session) -> None:
    session.info.pop(_BUMPED, None)


def listen_to_sessions(before_flush, after_commit, after_rollback) -> None:
    """Attach a flush, a commit and a rollback hook to every ORM session (idempotent)."""
    if not event.contains(Session, "before_flush", before_flush):
        event.listen(Session, "before_flush", before_flush)
        event.listen(Session, "after_commit", after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, tx: after_rollback(s))


def install() -> None:
    """Attach the version hooks to every ORM session (idempotent)."""
    listen_to_sessions(_before_flush, _after_commit, _after_rollback)


def on_bump(callback) -> None:
    """Run `callback()` (a bound method, held weakly) after any commit in this process that bumped the version."""
    _listeners.append(weakref.WeakMethod(callback))


def read_token(engine: Engine) -> SiteToken:
    """One primary-key read (plus indexed maxima over publish_at): the current token."""
    now = utcnow()
    # Scheduled bulletin updates and press releases appear by time alone: the newest one due is part of the key.
    due_update = select(func.max(Update.publish_at)).where(Update.publish_at <= now).scalar_subquery()
    due_release = select(func.max(Release.publish_at)).where(Release.publish_at <= now).scalar_subquery()
    with engine.connect() as conn:
        row = conn.execute(
            select(SiteState.version, SiteState.crisis_mode, SiteState.intake_paused, due_update, due_release)
            .where(SiteState.id == 1)
        ).first()
        if row is None:
            version, crisis, paused = 0, False, False
            marks = conn.execute(select(due_update, due_release)).first()
        else:
            version, crisis, paused, *marks = row
    due = max((m for m in marks if m is not None), default=None)
    return SiteToken(int(version), str(due or "").replace(" ", "T"), bool(crisis), bool(paused))


class TokenReader:
    """Per-process cache of the token for at most `ttl` seconds (0: read on every call).

    Threads share it: a read that began before `invalidate()`, or before a newer read already kept, is returned to
    its caller but never kept, so a slow reader cannot put back a token older than one another thread has seen."""

    def __init__(self, engine_getter, ttl: float) -> None:
        self.engine_getter = engine_getter  # the app's engine, made on first use (portal/pagetree.py uses it too)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._value: SiteToken | None = None
        self._read_at = 0.0
        self._generation = 0

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = 0.0
            self._generation += 1

    def get(self, fresh: bool = False) -> SiteToken:
        now = time.monotonic()
        value = self._value
        if not fresh and value is not None and now - self._read_at < self.ttl:
            return value
        generation = self._generation
        value = read_token(self.engine_getter())
        with self._lock:
            if generation == self._generation and now >= self._read_at:
                self._value, self._read_at = value, now
        return value


def get_state(session: Session) -> SiteState:
    """The state row for editing (created when missing)."""
    state = session.get(SiteState, 1)
    if state is None:
        state = SiteState(id=1, version=1, crisis_mode=False, intake_paused=False)
        session.add(state)
        session.flush()
    return state


def set_switches(
    session: Session, actor: StaffUser, crisis_mode: bool, intake_paused: bool, reason: str = ""
) -> SiteState:
    """Turn crisis mode and question intake on or off, giving a reason; audited, and bumps the version."""
    state = get_state(session)
    before = (bool(state.crisis_mode), bool(state.intake_paused))
    if before != (crisis_mode, intake_paused):
        reason = door.clean_line(reason or "")
        if door.visible_length(reason) < 2 or len(reason) > 500:
            raise ValidationFailed({"reason": "请填写切换原因（2-500 个字），它会记入操作日志。"})
        state.crisis_mode, state.intake_paused = crisis_mode, intake_paused
        audit.record(session, actor, "site.crisis_switches", "site", 1, crisis_mode=crisis_mode,
                     intake_paused=intake_paused, before={"crisis_mode": before[0], "intake_paused": before[1]},
                     reason=reason)
    session.commit()
    return state
