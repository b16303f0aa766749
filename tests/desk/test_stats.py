"""Monthly statistics on a known fixture: reply rate, on-time rate, median time to reply, satisfaction."""

from __future__ import annotations

import pytest
from desk_helpers import bj, make_question

from portal.extensions import db
from portal.services.desk import stats


@pytest.fixture
def fixture_month(app, staff):
    """November 2026: 交通 4 questions (3 answered, 2 on time, ratings 满意/基本满意/不满意), 教育 2 (1 answered)."""
    roads, schools = staff.roads, staff.schools
    make_question(app, 1, bj(2026, 11, 2, 9), roads, replied=bj(2026, 11, 2, 11), due=bj(2026, 11, 2, 18),
                  rating="satisfied")  # 2 h, on time
    make_question(app, 2, bj(2026, 11, 3, 9), roads, replied=bj(2026, 11, 3, 13), due=bj(2026, 11, 3, 18),
                  rating="basically")  # 4 h, on time
    make_question(app, 3, bj(2026, 11, 4, 9), roads, replied=bj(2026, 11, 5, 15), due=bj(2026, 11, 4, 18),
                  rating="unsatisfied")  # 30 h, late
    make_question(app, 4, bj(2026, 11, 5, 9), roads, due=bj(2026, 11, 5, 18))  # not answered
    make_question(app, 5, bj(2026, 11, 6, 9), schools, replied=bj(2026, 11, 6, 10), due=bj(2026, 11, 6, 18))
    make_question(app, 6, bj(2026, 11, 30, 23, 30), schools, due=bj(2026, 12, 1, 12))  # Beijing November
    make_question(app, 7, bj(2026, 12, 1, 0, 30), schools, replied=bj(2026, 12, 1, 1))  # December
    return roads, schools


def test_month_figures_per_department(app, fixture_month):
    with app.app_context():
        month = stats.month_stats(db.session, "2026-11")
    by_name = {f.name: f for f in month.departments}
    roads = by_name["测试县交通运输局"]
    assert (roads.received, roads.answered, roads.on_time, roads.rated, roads.satisfied) == (4, 3, 2, 3, 2)
    assert roads.reply_rate == pytest.approx(0.75)
    assert roads.on_time_rate == pytest.approx(2 / 3)
    assert roads.satisfaction_rate == pytest.approx(2 / 3)
    assert roads.median_hours == pytest.approx(4.0)
    schools = by_name["测试县教育局"]
    assert (schools.received, schools.answered, schools.on_time) == (2, 1, 1)
    assert schools.satisfaction_rate is None and schools.median_hours == pytest.approx(1.0)
    assert (month.total.received, month.total.answered, month.total.on_time) == (6, 4, 3)
    assert month.total.median_hours == pytest.approx(3.0)  # 1, 2, 4, 30
    assert stats.percent(month.total.reply_rate) == "66.7%"


def test_public_stats_page_shows_the_month_sets_no_cookie_and_draws_svg(app, fixture_month):
    client = app.test_client()
    response = client.get("/stats?month=2026-11")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    page = response.get_data(as_text=True)
    assert "测试县交通运输局" in page and "75.0%" in page and "66.7%" in page
    assert "<svg" in page and "<script" not in page
    latest = client.get("/stats").get_data(as_text=True)
    assert "2026-12" in latest and "2026-11" in latest


@pytest.mark.parametrize("month", ["2026-13", "abc", "1899-01", "２０２６-11", "2026-1"])
def test_invalid_month_is_a_400_with_a_message(client, month):
    response = client.get(f"/stats?month={month}")
    assert response.status_code == 400
    assert "月份格式" in response.get_data(as_text=True)


def test_staff_stats_and_monthly_summary(app, client, auth, staff, fixture_month):
    auth.login("office")
    page = client.get("/staff/stats?month=2026-11")
    assert page.status_code == 200 and "<svg" in page.get_data(as_text=True)
    summary = client.get("/staff/stats/summary?month=2026-11")
    text = summary.get_data(as_text=True)
    assert summary.status_code == 200 and "2026年11月网络舆情小结" in text
    assert "本月共收到网民留言 6 条，已答复 4 条" in text and "| 测试县交通运输局 | 4 | 3 | 75.0%" in text
    assert client.get("/staff/stats?month=2026-99").status_code == 400


def test_real_corpus_months_and_reply_times_on_stats(app, runner, tmp_path):
    """With the real corpus imported (2011-2020), /stats lists its months, with reply times from its timestamps."""
    import os
    import re
    import subprocess
    import sys

    from test_cli import CORPUS, ROOT

    if not (CORPUS / "teddy2020C_fj4_replies_full.jsonl").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"corpus not found at {CORPUS} (CI=true)")
        pytest.skip(f"real corpus not found at {CORPUS}")
    out = tmp_path / "corpus.jsonl"
    subprocess.run([sys.executable, str(ROOT / "bench" / "corpus_to_jsonl.py"), "--corpus", str(CORPUS),
                    "--output", str(out)], check=True, capture_output=True)
    assert "导入 2816 条" in runner.invoke(args=["import-questions", str(out)]).output
    client = app.test_client()
    page = client.get("/stats").get_data(as_text=True)
    months = set(re.findall(r'<option value="(\d{4}-\d{2})"', page))
    assert {"2019-01", "2019-06"} & months and min(months) >= "2011-01" and max(months) <= "2020-12"
    with app.app_context():
        figures = stats.month_stats(db.session, "2019-06")
        expected = stats.hours_text(figures.total.median_hours)
    assert figures.total.answered > 0 and figures.total.median_hours > 0
    june = client.get("/stats?month=2019-06")
    text = june.get_data(as_text=True)
    assert june.status_code == 200 and "Set-Cookie" not in june.headers
    assert expected in text and text.count("<svg") == 3 and "<polyline" in text
