"""What the citizen is told: 不予受理 with the public reason, a merged question's link to the earlier answer,
and a hidden question's page that says it is under review."""

from __future__ import annotations

from conftest import ask_and_get_code
from handling_helpers import post, published, question_id, signed_in, track


def test_rejected_question_shows_the_public_reason_not_the_note(app, staff):
    number, code = ask_and_get_code(app.test_client(), title="本店招聘兼职打字员", body="在家即可兼职打字，日结工资，详情请加微信了解。")
    qid = question_id(app, number)
    office = signed_in(app, "office")
    assert post(office, qid, "reject", reason="out_of_scope", note="已电话联系，留言人是外县商户").status_code == 303
    page = track(app.test_client(), number, code)
    assert "不予受理" in page and "不属于本地受理范围" in page
    assert "已电话联系" not in page and "不予公开" not in page


def test_merged_question_links_the_earlier_answer_on_track(app, staff):
    first, _code, _qid = published(app, staff)
    number, code = ask_and_get_code(app.test_client(), title="解放路的路灯什么时候修好", body="解放路中段路灯晚上一直不亮，请问什么时候能修好？")
    qid = question_id(app, number)
    office = signed_in(app, "office")
    assert post(office, qid, "merge", original=first).status_code == 303
    page = track(app.test_client(), number, code)
    assert "已合并办理" in page and f'href="/questions/{first}"' in page
    assert "不予受理" not in page


def test_hidden_question_page_says_it_is_under_review(app, staff):
    number, code, qid = published(app, staff)
    office = signed_in(app, "office")
    assert post(office, qid, "hide", reason="涉及个人隐私，核实中").status_code == 303
    response = app.test_client().get(f"/questions/{number}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "正在审核中" in page
    assert "解放路路灯不亮何时修" not in page and "涉及个人隐私" not in page
    assert "noindex" in page
    assert "正在审核中" in track(app.test_client(), number, code)
    # A number that never existed is still "not found".
    assert app.test_client().get("/questions/2099010199999").status_code == 404
