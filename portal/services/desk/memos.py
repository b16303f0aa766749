"""Forwarding memos (网络舆情抄告单) for major items: numbered per year, with the items' timelines."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import text as door
from portal.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from portal.models import AuditEntry, Department, Memo, MemoItem, Question, StaffUser, WatchItem
from portal.models.desk import MEMO_DONE, MEMO_DRAFT, MEMO_NEXT, MEMO_SENT
from portal.models.staff import ROLE_OFFICE
from portal.services import audit
from portal.timeutil import to_beijing, utcnow

TITLE_MAX = 200
TEXT_MAX = 5000
ITEMS_MAX = 50

# What the timeline says for each audited action on a question.
TIMELINE_LABELS = {
    "question.received": "网民留言",
    "question.routed": "办公室转交",
    "question.co_departments": "确定协办部门",
    "question.returned": "部门退回办公室",
    "question.major": "标记为重大舆情",
    "question.overdue_notice": "超时提醒",
    "question.merged": "合并为重复留言",
    "question.rejected": "不予受理",
    "reply.saved": "撰写答复",
    "reply.published": "答复公开",
    "question.hidden": "从留言板隐藏",
    "question.rated": "网民评价",
    "memo.created": "列入抄告单",
    "watch.assigned": "办公室交办",
    "watch.answered": "在平台上回应",
    "watch.major": "标记为重大舆情",
    "watch.closed": "办结",
    "watch.gone": "发现原帖或回应已删除",
}


@dataclass
class TimelineEntry:
    """One step in an item's history."""

    at: str
    what: str
    who: str


def next_seq(session: Session, year: int) -> int:
    """The next memo number in `year` (numbering restarts every year)."""
    return int(session.scalar(select(func.max(Memo.seq)).where(Memo.year == year)) or 0) + 1


def create_memo(
    session: Session,
    actor: StaffUser,
    question_ids: list[int],
    title: str,
    department_id: int | None,
    summary: str,
    suggestion: str,
    watch_item_ids: list[int] | None = None,
) -> Memo:
    """A new memo about related questions and watched items (at least one of either); they are marked major.
    Numbered 〔year〕第N号."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以制作抄告单。")
    reasons: dict[str, str] = {}
    title = door.clean(title or "").strip()
    summary = door.clean(summary or "").strip()
    suggestion = door.clean(suggestion or "").strip()
    if door.is_blank(title) or len(title) > TITLE_MAX:
        reasons["title"] = f"请填写抄告事项标题（不超过 {TITLE_MAX} 个字）。"
    if len(summary) > TEXT_MAX:
        reasons["summary"] = f"情况摘要不超过 {TEXT_MAX} 个字。"
    if door.is_blank(suggestion) or len(suggestion) > TEXT_MAX:
        reasons["suggestion"] = f"请填写处置建议（不超过 {TEXT_MAX} 个字）。"
    ids = list(dict.fromkeys(question_ids))
    wids = list(dict.fromkeys(watch_item_ids or []))
    found = list(session.scalars(select(Question).where(Question.id.in_(ids)))) if ids else []
    watched = list(session.scalars(select(WatchItem).where(WatchItem.id.in_(wids)))) if wids else []
    if (not ids and not wids) or len(found) != len(ids) or len(watched) != len(wids):
        reasons["questions"] = "请至少选择一条留言或监测信息（所选条目须存在）。"
    elif len(ids) + len(wids) > ITEMS_MAX:
        reasons["questions"] = f"一份抄告单最多 {ITEMS_MAX} 条。"
    if department_id is not None and session.get(Department, department_id) is None:
        reasons["department"] = "没有这个部门。"
    if reasons:
        raise ValidationFailed(reasons)
    by_id = {q.id: q for q in found}
    now = utcnow()
    year = to_beijing(now).year
    for _attempt in range(5):
        memo = Memo(
            year=year, seq=next_seq(session, year), title=title, department_id=department_id, summary=summary,
            suggestion=suggestion, status=MEMO_DRAFT, created_by_id=actor.id, created_at=now,
        )
        memo.items = [MemoItem(question_id=qid, position=i) for i, qid in enumerate(ids)] + [
            MemoItem(watch_item_id=wid, position=len(ids) + i) for i, wid in enumerate(wids)
        ]
        session.add(memo)
        try:
            session.flush()
        except IntegrityError:  # another memo took this number at the same moment: take the next one
            session.rollback()
            continue
        break
    else:
        raise InvalidTransition("编号冲突，请重试。")
    for qid in ids:
        question = by_id[qid]
        if not question.is_major:
            question.is_major = True
            audit.record(session, actor, "question.major", "question", qid, memo=memo.number)
        audit.record(session, actor, "memo.created", "question", qid, memo=memo.number)
    for item in watched:
        if item.severity != "重大":  # the same step as watch.handling.mark_major (desk may not import watch)
            item.severity = "重大"
            item.major_at = now
            audit.record(session, actor, "watch.major", "watch_item", item.id, memo=memo.number,
                         after_assignment=item.assigned_at is not None)
        audit.record(session, actor, "memo.created", "watch_item", item.id, memo=memo.number)
    audit.record(session, actor, "memo.created", "memo", memo.id, number=memo.number, items=len(ids) + len(wids))
    session.commit()
    return memo


def advance(session: Session, actor: StaffUser, memo: Memo) -> Memo:
    """Move a memo on: draft -> sent to the leadership -> done."""
    if actor.role != ROLE_OFFICE:
        raise Forbidden("只有办公室可以更新抄告单状态。")
    target = MEMO_NEXT.get(memo.status)
    if target is None:
        raise InvalidTransition("这份抄告单已办结。")
    memo.status = target
    if target == MEMO_SENT:
        memo.sent_at = utcnow()
    elif target == MEMO_DONE:
        memo.done_at = utcnow()
    audit.record(session, actor, "memo." + target, "memo", memo.id, number=memo.number)
    session.commit()
    return memo


def get_memo(session: Session, memo_id: int) -> Memo:
    memo = session.get(Memo, memo_id)
    if memo is None:
        raise NotFound("抄告单不存在。")
    return memo


def list_memos(session: Session, status: str | None = None) -> list[Memo]:
    """Memos, newest first."""
    stmt = select(Memo)
    if status:
        stmt = stmt.where(Memo.status == status)
    return list(session.scalars(stmt.order_by(Memo.year.desc(), Memo.seq.desc()).limit(500)))


def timeline(session: Session, question: Question | WatchItem) -> list[TimelineEntry]:
    """The history of a question or a watched item in words, from the audit log."""
    kind = "watch_item" if isinstance(question, WatchItem) else "question"
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.subject_type == kind, AuditEntry.subject_id == question.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    out = []
    for e in entries:
        if e.action in TIMELINE_LABELS:
            out.append(TimelineEntry(to_beijing(e.at).strftime("%m-%d %H:%M"), TIMELINE_LABELS[e.action],
                                     e.actor_name or "系统"))
    if isinstance(question, WatchItem):
        first = TimelineEntry(to_beijing(question.first_seen_at).strftime("%m-%d %H:%M"),
                              f"在{question.source.platform}（{question.source.name}）发现", "监测")
        out.insert(0, first)
    elif not out:
        out.append(TimelineEntry(to_beijing(question.received_at).strftime("%m-%d %H:%M"), "网民留言", "网民"))
    return out
