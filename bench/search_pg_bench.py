"""PostgreSQL search benchmark: build the `postgres` backend over N generated Chinese Q&A documents, then query it.

Usage: python bench/search_pg_bench.py [--docs 100000] [--queries 240] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

Creates a throwaway database on the server (dropped at the end, also on errors), runs the migrations, inserts N
bare question rows (the index table references question.id), then times `PostgresBackend.rebuild` (jieba
segmentation included) and runs the same unique 1-3 word queries (typed without spaces, as citizens do) twice:
with highlights and without. The result cache is cleared before each pass, so every figure is a real query.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# 13 topics: (department slug, department name, subjects, problems, requests)
TOPICS = [
    ("jtj", "交通运输局", ["公交车", "首班车", "国道", "红绿灯", "停车场", "客运站", "乡村公路", "斑马线"],
     ["班次太少", "经常晚点", "路面坑洼", "大货车超速", "没有减速带", "乱停乱放"],
     ["增开班次", "安装测速设备", "修补路面"]),
    ("zjj", "住房和城乡建设局", ["路灯", "小区", "下水道", "物业", "电梯", "老旧小区", "人行道", "施工工地"],
     ["长期不亮", "堵塞发臭", "夜间施工扰民", "电梯故障", "物业费上涨", "围挡占道"],
     ["尽快维修", "加装电梯", "规范施工时间"]),
    ("jyj", "教育局", ["小学", "幼儿园", "学位", "校车", "课后服务", "随迁子女", "学区", "食堂"],
     ["入学材料不清楚", "学位紧张", "校车超员", "收费不透明", "放学太早"],
     ["公布入学政策", "增加学位", "延长课后服务"]),
    ("ybj", "医疗保障局", ["医保", "报销", "异地就医", "门诊", "慢性病", "住院", "药品目录", "医保卡"],
     ["报销比例低", "备案手续复杂", "报销周期长", "药品不在目录"],
     ["简化备案", "提高报销比例", "开通线上办理"]),
    ("wjj", "卫生健康委员会", ["县医院", "乡镇卫生院", "疫苗", "体检", "急诊", "家庭医生", "挂号", "救护车"],
     ["排队时间长", "医生态度差", "疫苗断货", "挂号难"],
     ["增加医生", "优化挂号流程", "及时补货"]),
    ("sthjj", "生态环境局", ["河道", "垃圾", "噪音", "油烟", "养殖场", "化工厂", "空气质量", "污水"],
     ["污水直排", "气味刺鼻", "垃圾堆积", "夜间噪音"],
     ["加强执法", "安装在线监测", "清理河道"]),
    ("scjgj", "市场监督管理局", ["菜市场", "超市", "餐馆", "食品安全", "价格", "过期食品", "缺斤短两", "消费投诉"],
     ["卖过期食品", "价格欺诈", "卫生条件差", "无证经营"],
     ["严查处理", "公开检查结果", "退一赔三"]),
    ("rsj", "人力资源和社会保障局", ["社保", "养老金", "工资", "农民工", "失业金", "劳动合同", "退休", "就业补贴"],
     ["拖欠工资", "社保断缴", "补贴未到账", "合同不规范"],
     ["督促发放工资", "补缴社保", "公布补贴进度"]),
    ("gaj", "公安局", ["户口", "身份证", "驾驶证", "电动车", "治安", "监控", "反诈", "出入境"],
     ["办理太慢", "电动车被盗", "监控坏了", "诈骗电话多"],
     ["延长办公时间", "增设监控", "加强巡逻"]),
    ("nyj", "农业农村局", ["种子", "化肥", "农机补贴", "高标准农田", "灌溉", "养殖补贴", "土地流转", "农产品"],
     ["补贴发放慢", "灌溉渠损坏", "种子质量差", "流转费用拖欠"],
     ["修复水渠", "核查补贴", "抽检种子"]),
    ("mzj", "民政局", ["低保", "养老院", "残疾人", "婚姻登记", "临时救助", "高龄补贴", "殡葬", "社区服务"],
     ["审核不公开", "补贴停发", "养老院收费高"],
     ["公开名单", "恢复发放", "规范收费"]),
    ("zrzyj", "自然资源局", ["不动产登记", "宅基地", "房产证", "土地征收", "规划", "违建", "地质灾害", "矿山"],
     ["房产证办不下来", "征收补偿低", "违建无人管", "山体滑坡隐患"],
     ["加快办证", "公开补偿标准", "拆除违建"]),
    ("whlyj", "文化和旅游局", ["图书馆", "景区", "广场舞", "文化馆", "门票", "导游", "农家乐", "博物馆"],
     ["开放时间短", "门票太贵", "广场舞扰民", "设施陈旧"],
     ["延长开放时间", "门票优惠", "更新设施"]),
]
PLACES = ["青石镇", "柳湾镇", "云溪街道", "东关村", "西岭乡", "南湖社区", "北山村", "解放路", "人民路", "新华街",
          "滨河路", "火车站", "县城", "城南", "城北", "工业园区"]
FILLERS = ["希望有关部门尽快处理", "已经反映过多次", "影响群众正常生活", "请领导重视", "给大家带来很多不便",
           "周边居民意见很大", "不知道该找哪个部门", "盼复", "谢谢", "特别是早晚高峰", "老人孩子出行不安全",
           "附近还有一所学校", "网上也有很多人反映", "这个问题存在一年多了"]
REPLY_OPEN = ["网友您好：", "您好：", "感谢您的留言："]
REPLY_CLOSE = ["感谢您对我县工作的关心和支持。", "如有疑问请拨打服务热线。", "我们将持续跟进。"]
CATEGORIES = ["咨询", "建议", "投诉", "求助"]


def make_doc(rng: random.Random, qid: int, start: datetime):
    """One plausible question with its reply."""
    from portal.search import IndexDocument

    slug, dept, subjects, problems, requests = rng.choice(TOPICS)
    place, subject, problem = rng.choice(PLACES), rng.choice(subjects), rng.choice(problems)
    title = f"{place}{subject}{problem}"
    target = rng.randint(150, 400)
    parts = [f"{place}的{subject}{problem}，{rng.choice(FILLERS)}。"]
    while sum(map(len, parts)) < target:
        other = rng.choice(subjects + PLACES)
        parts.append(rng.choice([
            f"{other}{rng.choice(problems)}，{rng.choice(FILLERS)}。",
            f"建议{rng.choice(requests)}，{rng.choice(FILLERS)}。",
            f"我们{rng.choice(PLACES)}的居民{rng.choice(FILLERS)}，{subject}的事情{rng.choice(FILLERS)}。",
        ]))
    body = "".join(parts)[:target]
    reply = (f"{rng.choice(REPLY_OPEN)}关于您反映的{place}{subject}问题，经{dept}核实，"
             f"已{rng.choice(requests)}。{rng.choice(REPLY_CLOSE)}")
    return IndexDocument(
        question_id=qid, number=f"{qid:08d}", title=title, body=body, reply=reply, department=slug,
        department_name=f"云溪县{dept}", category=rng.choice(CATEGORIES),
        published_at=start + timedelta(minutes=qid * 7 + rng.randint(0, 6)),
    )


def make_queries(rng: random.Random, n: int) -> list[str]:
    """n unique queries of 1-3 words from one topic (sometimes with a place), typed without spaces."""
    seen: dict[str, None] = {}
    while len(seen) < n:
        topic = rng.choice(TOPICS)
        words = sorted({w for group in topic[2:] for w in group})
        picked = rng.sample(words, rng.choice([1, 1, 2, 2, 3]))
        if len(picked) < 3 and rng.random() < 0.3:
            picked.insert(0, rng.choice(PLACES))
        seen.setdefault("".join(picked), None)
    return list(seen)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run_pass(backend, queries: list[str], highlight: bool) -> tuple[list[float], list[int]]:
    from portal.search import SearchQuery

    backend._cache.clear()
    times, totals = [], []
    for text in queries:
        started = time.perf_counter()
        result = backend.search(SearchQuery(text=text, highlight=highlight))
        times.append((time.perf_counter() - started) * 1000)
        totals.append(result.total)
    return times, totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=240)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from portal import create_app
    from portal.config import normalise_database_url
    from portal.extensions import db
    from portal.search import SearchQuery
    from portal.search import backend as current_backend

    admin_url = sa.make_url(normalise_database_url(args.admin_url))
    name = f"search_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = admin_url.set(database=name).render_as_string(hide_password=False)
        app = create_app({"TESTING": True, "SECRET_KEY": "bench-secret-key-0123456789", "SQLALCHEMY_DATABASE_URI": url,
                          "SEARCH_BACKEND": "postgres", "SEARCH_INDEXER_THREAD": False})
        with app.app_context():
            upgrade(directory=app.extensions["migrate"].directory)
            backend = current_backend()
            start = datetime(2024, 1, 1, tzinfo=UTC)
            with db.engine.begin() as conn:  # bare rows for the foreign key; the index table carries the text
                conn.execute(sa.text(
                    "INSERT INTO question (id, title, body, status, received_at, updated_at) "
                    "SELECT g, 'q', 'q', 'published', now(), now() FROM generate_series(1, :n) g"), {"n": args.docs})
            rng = random.Random(args.seed)
            docs = (make_doc(rng, qid, start) for qid in range(1, args.docs + 1))
            started = time.perf_counter()
            count = backend.rebuild(None, stream=docs)
            build = time.perf_counter() - started
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE search_document"))
                size = conn.execute(sa.text(
                    "SELECT pg_size_pretty(pg_total_relation_size('search_document'))")).scalar()
            queries = make_queries(random.Random(args.seed + 1), args.queries)
            run_pass(backend, queries, highlight=False)  # warm PostgreSQL's and the OS's caches
            with_hl, totals = run_pass(backend, queries, highlight=True)
            fallback_free = sum(backend.search(SearchQuery(text=t, highlight=True)).matched_all_words for t in queries)
            without_hl, _ = run_pass(backend, queries, highlight=False)
            started = time.perf_counter()
            for text in queries:  # the last pass again: answered from the result cache after one version read
                backend.search(SearchQuery(text=text, highlight=False))
            cached = (time.perf_counter() - started) * 1000 / len(queries)
            example = backend.search(SearchQuery(text=queries[0]))
            db.session.remove()
            db.engine.dispose()
        print(f"documents: {count:,}  table+indexes: {size}")
        print(f"build: {build:.1f} s, {count / build:,.0f} docs/s (segmentation included)")
        print(f"queries: {len(queries)} unique, median hits {statistics.median(totals):,.0f}, "
              f"zero-hit {sum(1 for t in totals if t == 0)}, all words matched {fallback_free}")
        print(f"with highlights:    p50 {pct(with_hl, 50):.1f} ms  p95 {pct(with_hl, 95):.1f} ms  "
              f"max {max(with_hl):.1f} ms")
        print(f"without highlights: p50 {pct(without_hl, 50):.1f} ms  p95 {pct(without_hl, 95):.1f} ms  "
              f"max {max(without_hl):.1f} ms")
        print(f"cached (same queries again): {cached:.2f} ms a query")
        if example.hits:
            print(f"example {queries[0]!r}: {example.total} hits; {example.hits[0].title_html} | "
                  f"{example.hits[0].snippet_html[:120]}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
