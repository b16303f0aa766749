"""Statistics and the yearly assessment on a year of items: board questions from the real corpus (答复 times as
published), watched items from the shared watch samples spread over 2019 on several platforms (some stories
reposted across platforms), checked against counts this test computes itself from the plan it built."""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from loop_helpers import make_item, make_source, sight

from portal.extensions import db
from portal.models import Memo, MemoItem, Question, WatchCluster
from portal.services.clock import rule_from_config
from portal.services.desk import assessment, channels
from portal.services.watch.parsing import parse
from portal.timeutil import BEIJING, to_beijing

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SAMPLES = SHARED / "watch-samples"
CORPUS = SHARED / "corpus" / "teddy2020C_fj4_replies_full.jsonl"
YEAR = 2019
GRADES = ("好", "一般", "差")
CREDIT = {"好": 1.0, "一般": 0.5, "差": 0.0}
SATISFIED = ("satisfied", "basically")


def _sample_titles() -> list[str]:
    titles = []
    for name, ctype in (("discuz-forum-gb2312-mislabeled.rss", "application/rss+xml; charset=gb2312"),
                        ("weibo-rsshub.rss", "application/rss+xml"), ("news-site.atom", "application/atom+xml")):
        feed = parse((SAMPLES / name).read_bytes(), ctype, "http://samples.example/", 100_000)
        titles += [e.title for e in feed.entries if e.title]
    return titles


def _corpus_rows() -> list[dict]:
    rows = []
    with CORPUS.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("答复时间") and str(row.get("留言时间", "")).startswith(f"{YEAR}"):
                rows.append(row)
    return rows


def _local(text: str) -> datetime:
    text = text.strip().replace("-", "/")
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=BEIJING).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(text)


@dataclass
class Plan:
    """What the test put in the database, in plain values, to count from independently."""

    board: list[dict] = field(default_factory=list)
    watch: list[dict] = field(default_factory=list)


def _build(app, staff) -> Plan:
    if not (SAMPLES / "weibo-rsshub.rss").exists() or not CORPUS.exists():
        pytest.skip("../shared/watch-samples or ../shared/corpus is not beside the repository on this machine")
    titles = _sample_titles()
    corpus = _corpus_rows()[:240]
    assert len(titles) >= 20 and len(corpus) >= 100
    depts = [staff.roads, staff.schools, staff.office]
    plan = Plan()
    rule = rule_from_config(app.config)
    with app.app_context():
        for n, row in enumerate(corpus):
            received, published = _local(row["留言时间"]), _local(row["答复时间"])
            if published < received:
                continue
            rating = ("satisfied", "basically", "unsatisfied", None)[n % 4]
            due = rule.due_at(received) + timedelta(days=(n % 3) * 10)  # some late, most on time
            q = Question(title=row["留言主题"][:200], body=row["留言详情"][:2000], status="published",
                         department_id=depts[n % 3], received_at=received, routed_at=received, due_at=due,
                         published_at=published, answered_at=published, rating=rating)
            db.session.add(q)
            db.session.flush()
            on_memo = n % 25 == 0
            if on_memo:
                memo = Memo(year=YEAR, seq=n + 1, title="抄告", suggestion="处置", created_at=published)
                memo.items = [MemoItem(question_id=q.id)]
                db.session.add(memo)
            plan.board.append({"dept": depts[n % 3], "received": received, "published": published, "due": due,
                               "rating": rating, "escalated": on_memo})
        sources = {
            "论坛": make_source(db.session, "云溪论坛", "论坛", staff.roads),
            "微博": make_source(db.session, "县发布微博", "微博", staff.schools),
            "新闻网站": make_source(db.session, "县新闻网民生", "新闻网站", staff.office),
        }
        platforms = list(sources)
        n = 0
        for month in range(1, 13):
            for k in range(month % 4 + 3):  # 3 to 6 stories a month: months differ
                title = titles[n % len(titles)]
                first = datetime(YEAR, month, 3 + k * 3, 1 + k, 0, tzinfo=UTC)  # 09:00-14:00 Beijing
                home = platforms[n % 3]
                cluster = WatchCluster(first_seen_at=first, title=title)
                db.session.add(cluster)
                db.session.flush()
                item = make_item(db.session, sources[home], title, first, cluster=cluster)
                story_platforms = {home}
                if n % 3 == 0:  # seen on the next platform too (one story, two platforms)
                    other = platforms[(n + 1) % 3]
                    sight(db.session, item, sources[other], first + timedelta(hours=1))
                    story_platforms.add(other)
                dismissed = n % 11 == 5
                if dismissed:
                    item.status = "dismissed"
                else:
                    item.status = "closed" if n % 2 else "responded"
                    item.assigned_at = first + timedelta(minutes=30)
                    item.due_at = rule.due_at(first)
                    item.answered_at = first + timedelta(hours=(1, 3, 30, 5)[n % 4])
                    item.grade = GRADES[n % 3] if item.status == "closed" else ""
                    if n % 7 == 0:
                        item.severity, item.major_at = "重大", item.assigned_at + timedelta(hours=2)
                repost = None
                if n % 5 == 0 and not dismissed:  # a repost stored as its own item in the same story
                    where = platforms[(n + 2) % 3]
                    repost = make_item(db.session, sources[where], title + "（转）", first + timedelta(hours=2),
                                       cluster=cluster)
                    repost.status = "closed"
                    repost.assigned_at = first + timedelta(hours=2, minutes=10)
                    repost.due_at = rule.due_at(repost.first_seen_at)
                    repost.answered_at = first + timedelta(hours=4)
                    repost.grade = "好"
                    story_platforms.add(where)
                db.session.flush()
                for it in [item] + ([repost] if repost else []):
                    plan.watch.append({
                        "story": cluster.id, "id": it.id, "dept": it.department_id, "first": it.first_seen_at,
                        "status": it.status, "answered": it.answered_at, "due": it.due_at, "grade": it.grade,
                        "escalated": it.major_at is not None and it.major_at > it.assigned_at if it.assigned_at
                        else False, "platforms": story_platforms, "month": to_beijing(first).strftime("%Y-%m"),
                    })
                n += 1
        db.session.commit()
    return plan


def _expected_month(plan: Plan, month: str) -> dict:
    stories = defaultdict(list)
    for w in plan.watch:
        stories[w["story"]].append(w)
    total = {"items": 0, "answered": 0, "on_time": 0, "hours": []}
    per_platform: dict[str, dict] = defaultdict(lambda: {"items": 0, "answered": 0, "on_time": 0})
    for members in stories.values():
        handled = [m for m in members if m["status"] != "dismissed"]
        first = min(m["first"] for m in members)
        if not handled or to_beijing(first).strftime("%Y-%m") != month:
            continue
        answered = min(m["answered"] for m in handled)
        due = min(m["due"] for m in handled)
        on_time = answered <= due
        for bucket in [total, *(per_platform[p] for p in members[0]["platforms"])]:
            bucket["items"] += 1
            bucket["answered"] += 1
            bucket["on_time"] += on_time
        total["hours"].append((answered - first).total_seconds() / 3600)
    return {"total": total, "platforms": dict(per_platform)}


def test_monthly_watch_figures_count_a_story_once_and_once_per_platform(app, staff):
    plan = _build(app, staff)
    with app.app_context():
        checked = 0
        for month in (f"{YEAR}-{m:02d}" for m in range(1, 13)):
            want = _expected_month(plan, month)
            got = channels.month_figures(db.session, month)
            assert (got.total.received, got.total.answered, got.total.on_time) == (
                want["total"]["items"], want["total"]["answered"], want["total"]["on_time"]), month
            assert got.total.median_hours == pytest.approx(statistics.median(want["total"]["hours"]))
            assert {f.name: (f.received, f.on_time) for f in got.platforms} == {
                p: (v["items"], v["on_time"]) for p, v in want["platforms"].items()}, month
            checked += want["total"]["items"]
        # Each story once: fewer stories than stored handled items, because of the reposts.
        handled_items = sum(1 for w in plan.watch if w["status"] != "dismissed")
        assert 40 < checked < handled_items
        trend = channels.trend(db.session, f"{YEAR}-01", f"{YEAR}-12")
        assert [f.received for f in trend] == [_expected_month(plan, f.name)["total"]["items"] for f in trend]
        assert len({f.received for f in trend}) > 1  # the months differ, as the office's chart shows


def test_yearly_assessment_matches_an_independent_count(app, staff):
    plan = _build(app, staff)
    now = datetime(YEAR + 1, 3, 1, tzinfo=UTC)
    with app.app_context():
        results = {r.name: r for r in assessment.assess(db.session, YEAR, assessment.AssessSettings(), now=now)}
        names = {staff.roads: "测试县交通运输局", staff.schools: "测试县教育局", staff.office: "测试县人民政府办公室"}
    assert set(results) == set(names.values())
    late = 0
    for dept_id, name in names.items():
        board = [b for b in plan.board if b["dept"] == dept_id]
        watch = [w for w in plan.watch if w["dept"] == dept_id and w["status"] != "dismissed"]
        due = len(board) + len(watch)  # every item here was answered, so every one counts
        on_time = sum(b["published"] <= b["due"] for b in board) + sum(w["answered"] <= w["due"] for w in watch)
        late += due - on_time
        rated = [b for b in board if b["rating"]]
        graded = [w for w in watch if w["grade"]]
        well = (sum(b["rating"] in SATISFIED for b in rated) + sum(CREDIT[w["grade"]] for w in graded)) / (
            len(rated) + len(graded))
        escalated = sum(b["escalated"] for b in board) + sum(w["escalated"] for w in watch)
        kept = 1 - escalated / (len(board) + len(watch))
        score = round(100 * (0.4 * on_time / due + 0.3 * well + 0.3 * kept), 1)
        r = results[name]
        assert (r.board_items, r.watch_items, r.due, r.on_time) == (len(board), len(watch), due, on_time), name
        assert r.well_received_rate == pytest.approx(well) and r.kept_rate == pytest.approx(kept)
        assert r.escalated == escalated and escalated > 0
        assert r.score == pytest.approx(score)
        level = "优秀" if score >= 90 else "良好" if score >= 80 else "合格" if score >= 60 else "不合格"
        assert r.level == level
    assert late > 0  # the year has late answers as well as timely ones: the rates are not trivially 100 %


def test_assessment_page_and_xlsx_show_both_channels(app, client, auth, staff):
    _build(app, staff)
    auth.login("office")
    page = client.get(f"/staff/assessment?year={YEAR}").get_data(as_text=True)
    assert f"{YEAR} 年度各部门网络舆情回应工作考核" in page and "测试县交通运输局" in page
    assert client.get("/staff/assessment?year=19x9").status_code == 400
    from io import BytesIO

    from openpyxl import load_workbook

    rows = list(load_workbook(BytesIO(client.get(f"/staff/assessment.xlsx?year={YEAR}").data)).active
                .iter_rows(values_only=True))
    assert rows[0][:3] == ("部门", "本站留言", "监测信息")
    assert all(r[1] > 0 and r[2] > 0 for r in rows[1:]) and len(rows) == 4
    stats_page = client.get(f"/staff/stats?month={YEAR}-03").get_data(as_text=True)
    assert "其他平台舆情回应" in stats_page and "云溪论坛" not in stats_page and "微博" in stats_page
    summary = client.get(f"/staff/stats/summary?month={YEAR}-03").get_data(as_text=True)
    assert "其他平台舆情回应情况" in summary and "| 微博 |" in summary
