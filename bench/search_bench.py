"""Search benchmark: the Whoosh backend against SQLite FTS5 on the same segmented text, plus search quality.

Usage:
    python bench/search_bench.py [--docs N [N ...]] [--queries N] [--seed S] [--skip-real] [--skip-generated]
                                 [--quick] [--profile K] [--corpus DIR]

Corpora: the real citizen-message corpus (answered messages, converted at run time with bench/corpus_to_jsonl.py;
never copied into the repository) and a generated corpus of `--docs` Chinese questions with official replies over
13 topics (deterministic; cached as JSON Lines under instance/bench/, which git ignores).

For each corpus it prints: full rebuild docs/s and index size; open time (fresh backend object, and fresh process);
query p50/p95/max over unique 1-3 word queries with and without highlights (the result cache is cleared before every
query); the same for SQLite FTS5 on `portal.search.analysis.segmented` text built and queried in the same run, and
the Whoosh/FTS5 ratios. On the largest generated corpus: seconds from `apply([doc], [])` to the doc being found.
On the real corpus: recall@5 / recall@1 of the question for its own title's jieba TF-IDF keywords, and
recall@10 of every question for its body's keywords that are not in its title, Whoosh beside FTS5 (bm25 with the
title weighted 3) on the same queries.
`--profile K` adds a phase breakdown and a cProfile listing of the K slowest highlighted queries.
Targets are printed with PASS/MISS. `--quick`: 10k generated documents, 100 queries.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from portal.search import IndexDocument, SearchQuery  # noqa: E402
from portal.search.analysis import SEGMENTER, query_terms, search_terms, segmented  # noqa: E402
from portal.search.whoosh_backend import WhooshBackend  # noqa: E402

BEIJING = timezone(timedelta(hours=8))
CACHE_DIR = ROOT / "instance" / "bench"
GENERATOR_VERSION = 1  # bump when the generator changes: the cache file name includes it

TARGETS = {
    "p95_100k": 150.0,  # ms, with highlights, 100k documents
    "p95_10k": 30.0,  # ms, with highlights, 10k documents
    "build": 800.0,  # docs/s, full rebuild
    "searchable": 2.0,  # s from apply() start to found by search
    "recall5": 0.99,  # title keywords, recall@5 on the real corpus
}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# =========================================================================== generated corpus

PLACES_A = ["东城区", "西城区", "南湖区", "北山区", "高新区", "经开区", "临江区", "云溪县", "青石县", "望城区",
            "河西新区", "城南区", "双桥镇", "柳林镇", "白沙乡", "金桥街道", "长安街道", "红星街道", "滨江街道",
            "新华街道"]
PLACES_B = ["幸福小区", "阳光花园", "翠湖苑", "锦绣家园", "和平里社区", "建设路", "人民路", "解放大道", "中山路",
            "学府路", "滨河路", "工业园", "火车站附近", "老城区", "桂花坪", "梅溪湖片区", "东方明珠小区", "绿地城",
            "书香苑", "龙湖花园", "五一路", "芙蓉中路", "朝阳村", "新民村", "银杏路", "天心阁附近", "万家丽路",
            "枫林路", "星沙大道", "香樟路", "河东安置小区", "城北农贸市场", "体育中心周边", "高铁新城",
            "湘江大道", "南门口", "水岸名都", "丽景华庭", "湖畔雅苑", "金色家园"]

DEPARTMENTS = {
    "jiaotong": "交通运输局",
    "chengguan": "城市管理局",
    "jiaoyu": "教育局",
    "yibao": "医疗保障局",
    "renshe": "人力资源和社会保障局",
    "shuiwu": "水务局",
    "huanjing": "生态环境局",
    "zhujian": "住房和城乡建设局",
    "shichang": "市场监督管理局",
    "yingji": "应急管理局",
    "gongan": "公安局",
}
CATEGORIES = ["咨询", "建议", "投诉", "求助"]

# topic: (departments, objects, problems, asks, details, reply actions)
TOPICS = {
    "roads": (["jiaotong", "zhujian"],
              ["道路", "路面", "人行道", "主干道", "十字路口", "桥梁", "井盖", "乡村公路", "辅道"],
              ["坑洼不平", "破损严重", "施工长期未完工", "出现塌陷", "裂缝越来越多", "雨后大面积积水", "被渣土车压坏"],
              ["尽快修复路面", "加快施工进度", "设置警示标志", "安排养护单位检查", "公布施工工期"],
              ["每天早晚高峰车辆排起长队", "已经有好几位骑电动车的市民在这里摔倒", "施工围挡占用了大半个车道",
               "晚上没有任何警示灯，非常危险", "附近学校的学生每天都要经过这段路", "路面修了又挖，挖了又修"],
              ["已责成道路养护单位对破损路面进行修补", "施工单位已增加人员和机械设备，预计下月底完工",
               "已在施工路段设置警示标志和夜间警示灯", "该路段已纳入今年道路提质改造计划"]),
    "lights": (["chengguan"],
               ["路灯", "照明设施", "景观灯", "小区路灯", "隧道照明", "人行道路灯"],
               ["长期不亮", "晚上一片漆黑", "白天亮晚上不亮", "线路老化经常短路", "灯杆倾斜", "损坏无人维修"],
               ["尽快维修路灯", "增设照明设施", "明确维护责任单位", "定期巡查照明设施"],
               ["晚上下班回家只能摸黑走路", "附近发生过几起盗窃案件", "老人晚上出门散步很不安全",
                "打过物业和社区电话都说不归他们管", "路灯坏了已经三个多月"],
               ["已安排路灯维护人员对故障路灯进行抢修", "经查该路段照明线路老化，已列入改造计划",
                "该小区内部路灯由物业负责维护，已督促物业公司限期修复", "已在该路段增设路灯十二盏"]),
    "schools": (["jiaoyu"],
                ["学校", "幼儿园", "小学", "初中", "学位", "校车", "课后服务", "民办幼儿园", "学区划分"],
                ["学位紧张", "入学难", "收费不合理", "划片不合理", "教师待遇偏低", "校舍老旧", "乱收补课费"],
                ["增加公办学位", "公开招生政策", "规范收费行为", "合理调整学区", "提高教师待遇"],
                ["孩子今年九月就要上小学了", "小区周边没有一所公办幼儿园", "每学期都要额外交各种费用",
                 "很多家长为了学位只能租房", "老师反映工资已经几个月没有按时发放"],
               ["今年秋季将新增公办学位八百个", "招生划片方案已在教育局网站公示", "已对该校收费情况进行调查，责令退还违规收取的费用",
                "民办幼儿园教师待遇问题已纳入普惠性幼儿园扶持政策"]),
    "medical": (["yibao", "renshe"],
                ["医保", "医疗保险", "异地就医", "医保卡", "门诊报销", "城乡居民医保", "大病保险", "特殊病种"],
                ["报销比例太低", "异地就医备案困难", "医保卡无法使用", "报销手续繁琐", "缴费标准上涨过快", "转移接续办不了"],
                ["简化报销流程", "开通异地直接结算", "说明报销政策", "提高报销比例"],
                ["父母在外地随子女生活，看病报销很麻烦", "去了三次医保窗口都没有办成", "住院花了好几万只报销了一小部分",
                 "灵活就业人员缴费负担很重", "网上办理系统经常提示错误"],
                ["异地就医备案已可通过手机办理，无需到窗口", "经核实，您的报销已按政策规定结算",
                 "城乡居民医保缴费标准由国家和省统一确定", "已安排工作人员与您联系，协助办理医保关系转移"]),
    "pensions": (["renshe"],
                 ["养老金", "养老保险", "社保", "退休手续", "工龄认定", "社保补缴", "高龄补贴"],
                 ["迟迟没有发放", "计算有误", "补缴政策不明确", "办理退休手续困难", "待遇偏低", "断缴无法接续"],
                 ["核查养老金发放情况", "明确补缴政策", "尽快办理退休手续", "提高养老待遇"],
                 ["我今年已经满六十岁了", "原单位已经改制破产", "档案里的工龄记录不完整", "跑了好几个部门都互相推诿",
                  "每月领取的养老金和同事相差很多"],
                 ["经查询，您的养老保险缴费记录完整，已按规定核定待遇", "补缴政策请参照省人社厅相关文件执行",
                  "已协调原单位主管部门补齐档案材料", "高龄补贴已于本月发放到位"]),
    "water": (["shuiwu"],
              ["自来水", "供水", "水压", "水质", "水管", "水费", "二次供水", "饮用水"],
              ["经常停水", "水压太低", "水质浑浊发黄", "水管爆裂", "水费收费异常", "停水没有提前通知"],
              ["保障正常供水", "检测水质", "尽快抢修水管", "核查水费"],
              ["高楼层住户基本用不上水", "烧开的水有很多水垢", "这个月水费比平时高了三倍",
               "停水前没有任何通知，影响了一家人的生活", "爆管后水流了一整天都没人管"],
              ["供水公司已对该区域管网进行检修，水压已恢复正常", "经检测，该小区水质符合国家饮用水标准",
               "二次供水设施改造已列入年度计划", "已安排抄表员重新核对水表读数"]),
    "noise": (["huanjing", "gongan", "chengguan"],
              ["噪音", "施工噪音", "广场舞", "夜间施工", "酒吧噪音", "商铺音响", "工地"],
              ["扰民严重", "深夜还在施工", "音量太大", "影响休息", "长期无人管理"],
              ["依法查处噪音扰民", "禁止夜间施工", "规范广场舞时间和音量", "加强巡查"],
              ["每天晚上十二点以后还在打桩", "孩子面临高考，根本无法复习", "多次拨打投诉电话都没有解决",
               "老人心脏不好，被吵得整夜睡不着", "商铺门口的音响从早放到晚"],
              ["执法人员已到现场调查，责令施工单位停止夜间施工", "已对该工地夜间施工行为立案查处",
               "已与社区协调，规范广场舞活动时间和音量", "辖区派出所将加强夜间巡查"]),
    "buses": (["jiaotong"],
              ["公交", "公交线路", "公交站台", "班次", "公交车", "地铁接驳", "城乡公交"],
              ["班次太少", "线路不合理", "站台缺少遮雨棚", "司机态度恶劣", "末班车太早", "绕路严重"],
              ["增加公交班次", "优化公交线路", "增设公交站点", "延长运营时间"],
              ["早上等车要等半个多小时", "新建小区周边没有公交线路", "下雨天乘客只能站在雨里等车",
               "末班车晚上八点就停了，下班回家很不方便", "公交车经常过站不停"],
              ["公交集团已对该线路增加早晚高峰班次", "经调研，将于下月开通新线路", "已督促公交企业对驾驶员进行批评教育",
               "该站台遮雨棚已纳入今年站台改造计划"]),
    "property": (["zhujian"],
                 ["物业", "物业公司", "物业费", "维修基金", "电梯", "停车位", "业委会", "小区绿化"],
                 ["服务质量差", "乱收费", "电梯经常故障", "维修基金使用不透明", "侵占公共区域", "不作为"],
                 ["督促物业整改", "公开收费标准", "维修电梯", "支持成立业委会"],
                 ["电梯一个月坏了好几次，有人被困在里面", "物业费每年都在涨，服务却越来越差", "小区垃圾堆积无人清理",
                  "物业把公共绿地改成停车位出租", "业主多次反映都没有回应"],
                 ["已约谈物业公司负责人，责令限期整改", "电梯已由维保单位检修，并通过特种设备检验",
                  "维修基金使用须经业主大会表决，已督促物业公示", "街道将指导小区依法成立业主委员会"]),
    "wages": (["renshe"],
              ["工资", "农民工工资", "劳动合同", "加班费", "工程款", "社保缴纳"],
              ["被拖欠", "长期拖欠不发", "克扣严重", "拒不签订劳动合同", "不按规定缴纳社保"],
              ["帮助追讨欠薪", "依法查处欠薪企业", "督促签订劳动合同", "维护劳动者权益"],
              ["工地上几十名工人半年没拿到工资", "老板一直说工程款没有到位", "快过年了，家里老人孩子等着用钱",
               "公司每天要求加班却不给加班费", "去劳动监察大队反映过没有结果"],
              ["劳动保障监察大队已立案调查，责令企业限期支付工资", "经协调，拖欠的工资已全部发放到位",
               "已依法对该企业未签订劳动合同的行为作出处理", "请携带相关证据材料到劳动人事争议仲裁院申请仲裁"]),
    "pollution": (["huanjing"],
                  ["污染", "废气", "臭味", "污水", "烟尘", "垃圾焚烧", "养殖场", "化工厂", "黑臭水体"],
                  ["直接排放", "气味刺鼻", "偷排污水", "严重污染环境", "夜间偷排"],
                  ["依法查处污染企业", "加强环境监测", "关停违法排污企业", "整治河道水体"],
                  ["每天晚上都能闻到刺鼻的气味", "河里的鱼大量死亡", "附近居民很多人出现咳嗽症状",
                   "工厂烟囱冒着黑烟", "污水直接排进了农田"],
                  ["执法人员已对该企业进行现场检查，责令停产整改", "监测数据显示该企业排放超标，已立案处罚",
                   "该河段已纳入黑臭水体整治工程", "已督促养殖场完善粪污处理设施"]),
    "flooding": (["shuiwu", "yingji", "zhujian"],
                 ["内涝", "积水", "排水管网", "下水道", "雨水井", "防洪堤", "地下车库"],
                 ["一下雨就淹", "堵塞严重", "排水不畅", "年久失修", "被水淹没"],
                 ["疏通排水管网", "改造排水设施", "加固防洪堤", "制定防汛预案"],
                 ["每次下大雨积水都没过膝盖", "地下车库进水，好几辆车被泡", "雨水井盖被垃圾堵死",
                  "门面被淹，损失很大", "老小区排水管道还是几十年前的"],
                 ["已安排排水单位对该区域管网进行疏通", "该片区排水改造工程已完成设计，近期开工",
                  "防汛期间将在易涝点安排人员值守", "已对防洪堤进行隐患排查和加固"]),
    "food": (["shichang"],
             ["食品安全", "餐馆", "外卖", "菜市场", "过期食品", "学校食堂", "小作坊", "超市"],
             ["卫生条件差", "销售过期食品", "无证经营", "使用地沟油", "吃了拉肚子"],
             ["加强食品安全检查", "查处无证经营", "规范市场秩序", "公开检查结果"],
             ["后厨脏乱差，老鼠到处跑", "买回来的牛奶已经过了保质期", "孩子在学校食堂吃完饭后肚子疼",
              "路边小作坊没有任何证照", "投诉后商家拒不赔偿"],
             ["执法人员已对该店进行检查，责令停业整改", "经查，该超市销售过期食品属实，已立案查处",
              "已联合教育部门对学校食堂开展专项检查", "该小作坊无证经营，已依法取缔"]),
}

OPENERS = ["我是{place}的居民，", "本人住在{place}，", "您好，我想反映一下{place}的情况。", "尊敬的领导：", "",
           "我们{place}的居民有一个问题想反映。"]
FILLERS = ["这个问题已经持续了{n}个月，", "周边居民意见很大，", "之前也反映过，但一直没有得到解决。",
           "希望有关部门能够重视，", "给大家的生活带来了很大不便。", "存在较大的安全隐患。", "请问这种情况归哪个部门管？",
           "大家都盼着早日解决。", "相关部门一直没有给出明确答复。"]
REPLY_OPEN = ["网友您好！您反映的{place}{obj}{problem}的问题收悉。", "您好！关于您反映的{place}{obj}问题，现答复如下：",
              "网友：您好！您的留言已收悉，现将有关情况回复如下。"]
REPLY_FILL = ["经{dept}调查核实，情况基本属实。", "我局高度重视，立即组织工作人员进行了现场调查。",
              "下一步，我们将加强日常监管，防止类似问题再次发生。", "如有疑问，请拨打{dept}服务电话咨询。",
              "我们将持续跟踪处理进展。", "对此给您带来的不便深表歉意。", "相关工作正在按计划推进。"]
REPLY_CLOSE = ["感谢您对我们工作的关注和支持！", "感谢您的来信。", "特此回复。"]

START = datetime(2023, 1, 1, 8, 0, tzinfo=BEIJING)
SPAN_SECONDS = 730 * 86400


def _fill(rng: random.Random, pool: list[str], **slots) -> str:
    return rng.choice(pool).format(**slots)


def _grow(rng: random.Random, head: str, pools: list[list[str]], tail: str, low: int, high: int, slots) -> str:
    target = rng.randint(low, high)
    parts = [head]
    length = len(head) + len(tail)
    while length < target:
        piece = _fill(rng, rng.choice(pools), **slots)
        if length + len(piece) > high:
            if length >= low:
                break
            piece = piece[: high - length]
        parts.append(piece)
        length += len(piece)
    return "".join(parts) + tail


def generate_doc(rng: random.Random, i: int) -> dict:
    topic = rng.choice(list(TOPICS))
    depts, objs, problems, asks, details, actions = TOPICS[topic]
    place = rng.choice(PLACES_A) + rng.choice(PLACES_B)
    obj, problem, ask = rng.choice(objs), rng.choice(problems), rng.choice(asks)
    dept = rng.choice(depts)
    for _ in range(20):
        title = rng.choice([f"{place}{obj}{problem}", f"关于{place}{obj}{problem}的问题", f"{place}{obj}{problem}，请{ask}",
                            f"请{ask}", f"{obj}{problem}", f"{place}的{obj}什么时候能解决？", f"反映{place}{obj}{problem}"])
        if 10 <= len(title) <= 25:
            break
        place = rng.choice(PLACES_A) + rng.choice(PLACES_B)
    else:
        title = (title + "的问题反映")[:25]
    slots = {"place": place, "n": rng.randint(2, 18), "obj": obj, "problem": problem,
             "dept": DEPARTMENTS[dept]}
    head = _fill(rng, OPENERS, **slots) + f"{place}的{obj}{problem}。"
    body_pools = [[d + "，" for d in details], FILLERS, [f"希望{a}。" for a in asks],
                  [f"{o}{p}，" for o in objs for p in problems[:3]]]
    body = _grow(rng, head, body_pools, f"恳请相关部门{ask}！", 150, 400, slots)
    reply_pools = [[a + "。" for a in actions], REPLY_FILL]
    reply = _grow(rng, _fill(rng, REPLY_OPEN, **slots), reply_pools, _fill(rng, REPLY_CLOSE), 150, 400, slots)
    published = START + timedelta(seconds=rng.randrange(SPAN_SECONDS))
    return {"id": i + 1, "number": f"G{i + 1:07d}", "title": title, "body": body, "reply": reply,
            "department": dept, "department_name": DEPARTMENTS[dept], "category": rng.choice(CATEGORIES),
            "published_at": published.isoformat(), "topic": topic}


def generated_corpus(n: int, seed: int) -> list[IndexDocument]:
    path = CACHE_DIR / f"generated-v{GENERATOR_VERSION}-seed{seed}-{n}.jsonl"
    if not path.is_file():
        rng = random.Random(seed)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="utf-8") as handle:
            for i in range(n):
                handle.write(json.dumps(generate_doc(rng, i), ensure_ascii=False) + "\n")
        os.replace(partial, path)
    docs = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            docs.append(IndexDocument(question_id=r["id"], number=r["number"], title=r["title"], body=r["body"],
                                      reply=r["reply"], department=r["department"],
                                      department_name=r["department_name"], category=r["category"],
                                      published_at=datetime.fromisoformat(r["published_at"])))
    return docs


# =========================================================================== real corpus

def real_corpus(corpus_dir: Path | None) -> list[IndexDocument]:
    import corpus_to_jsonl as c2j

    corpus = corpus_dir or c2j.default_corpus_dir()
    summary = c2j.Summary()
    docs = []
    for i, r in enumerate(c2j.convert(corpus, False, summary, lambda message: None)):
        when = r["replied_at"] or r["asked_at"]
        docs.append(IndexDocument(question_id=i + 1, number=r["external_id"], title=r["title"], body=r["body"],
                                  reply=r["reply"], department="", department_name="", category="",
                                  published_at=datetime.fromisoformat(when)))
    return docs


# =========================================================================== queries

def make_queries(docs: list[IndexDocument], n: int, seed: int) -> list[str]:
    """Unique 1-3 word queries from words of document titles (so words co-occur), with or without spaces."""
    rng = random.Random(seed)
    seen: set[str] = set()
    seen_terms: set[tuple[str, ...]] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < n and attempts < n * 200:
        attempts += 1
        doc = rng.choice(docs)
        words = [w for w in query_terms(doc.title) if len(w) >= 2 and not w.isdigit()]
        if not words:
            continue
        k = min(len(words), rng.choice([1, 2, 2, 3]))
        start = rng.randrange(len(words) - k + 1)
        chosen = words[start:start + k]
        text = (" " if rng.random() < 0.5 else "").join(chosen)
        terms = tuple(query_terms(text))
        # Unique as typed and as analysed: the same terms would hit the same posting lists.
        if text in seen or terms in seen_terms or not terms:
            continue
        seen.add(text)
        seen_terms.add(terms)
        out.append(text)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def fmt_lat(ms: list[float]) -> str:
    return f"p50 {pct(ms, 50):7.1f}  p95 {pct(ms, 95):7.1f}  max {max(ms):7.1f} ms"


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


# =========================================================================== Whoosh

def whoosh_queries(backend: WhooshBackend, queries: list[str], highlight: bool):
    times, totals, fallbacks = [], [], 0
    backend.search(SearchQuery("预热查询", highlight=highlight))  # the searcher is open before timing
    for text in queries:
        backend._cache.clear()
        started = time.perf_counter()
        result = backend.search(SearchQuery(text, highlight=highlight))
        times.append((time.perf_counter() - started) * 1000)
        totals.append(result.total)
        fallbacks += not result.matched_all_words
    return times, totals, fallbacks


CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
from portal.search import SearchQuery
from portal.search.whoosh_backend import WhooshBackend
t1 = time.perf_counter()
b = WhooshBackend(sys.argv[2])
r = b.search(SearchQuery(sys.argv[3]))
t2 = time.perf_counter()
b.search(SearchQuery(sys.argv[4]))
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""


def open_times(root: Path, queries: list[str]) -> tuple[float, dict]:
    fresh = []
    for text in queries[:3]:
        backend = WhooshBackend(str(root))
        started = time.perf_counter()
        backend.search(SearchQuery(text))
        fresh.append(time.perf_counter() - started)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(root), queries[3], queries[4]],
                          check=True, capture_output=True, text=True)
    return statistics.median(fresh), json.loads(proc.stdout.strip().splitlines()[-1])


# =========================================================================== FTS5

class Fts5:
    """SQLite FTS5 over the same search-mode segmented text, with the backend's AND-then-OR logic."""

    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")

    def build(self, docs: list[IndexDocument]) -> float:
        db = self.db
        db.execute("CREATE VIRTUAL TABLE fts USING fts5(title, body, reply, department UNINDEXED, "
                   "tokenize='unicode61 remove_diacritics 0')")
        started = time.perf_counter()
        with db:
            db.executemany("INSERT INTO fts(rowid, title, body, reply, department) VALUES (?, ?, ?, ?, ?)",
                           ((d.question_id, segmented(d.title), segmented(d.body), segmented(d.reply),
                             d.department or "-") for d in docs))
        with db:
            db.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        return time.perf_counter() - started

    @staticmethod
    def _match(terms: list[str], all_words: bool) -> str:
        quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
        return (" AND " if all_words else " OR ").join(quoted)

    def _run(self, match: str, highlight: bool):
        facets = dict(self.db.execute("SELECT department, count(*) FROM fts WHERE fts MATCH ? GROUP BY department",
                                      (match,)).fetchall())
        total = sum(facets.values())
        if highlight:
            sql = ("SELECT rowid, snippet(fts, 0, '<mark>', '</mark>', '…', 16), "
                   "snippet(fts, 1, '<mark>', '</mark>', '…', 32), snippet(fts, 2, '<mark>', '</mark>', '…', 32) "
                   "FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, 3.0, 1.0, 1.0) LIMIT 10")
        else:
            sql = ("SELECT rowid, title, substr(body, 1, 160) FROM fts WHERE fts MATCH ? "
                   "ORDER BY bm25(fts, 3.0, 1.0, 1.0) LIMIT 10")
        rows = self.db.execute(sql, (match,)).fetchall()
        return total, rows

    def search(self, text: str, highlight: bool):
        terms = query_terms(text)
        if not terms:
            return 0, []
        total, rows = self._run(self._match(terms, True), highlight)
        if total == 0:
            wider = search_terms(text)
            if len(wider) > 1 or wider != terms:
                total, rows = self._run(self._match(wider, False), highlight)
        return total, rows

    def queries(self, queries: list[str], highlight: bool):
        times, totals = [], []
        for text in queries:
            started = time.perf_counter()
            total, _ = self.search(text, highlight)
            times.append((time.perf_counter() - started) * 1000)
            totals.append(total)
        return times, totals


# =========================================================================== profiling

def phase_breakdown(backend: WhooshBackend, text: str) -> dict:
    """The phases of WhooshBackend._search/_run for one highlighted query, timed separately (ms)."""
    searcher, _ = backend._searcher()
    out = {}
    t = time.perf_counter()
    terms = query_terms(text)
    out["segment"] = time.perf_counter() - t
    match = backend._word_query(terms, all_words=True)
    t = time.perf_counter()
    total, _ = backend._count(searcher, match)
    out["count + facets"] = time.perf_counter() - t
    if not total:
        terms = search_terms(text)
        match = backend._word_query(terms, all_words=False)
        t = time.perf_counter()
        total, _ = backend._count(searcher, match)
        out["OR fallback count"] = time.perf_counter() - t
    t = time.perf_counter()
    page = searcher.search(match, limit=10, terms=False)[0:10]
    out["scored search"] = time.perf_counter() - t
    t = time.perf_counter()
    for h in page:
        backend._hit(h.fields(), h.score, frozenset(terms))
    out["hits + highlights"] = time.perf_counter() - t
    out["hits"] = total
    return out


def profile_slowest(backend: WhooshBackend, queries: list[str], times: list[float], k: int) -> None:
    slow = sorted(zip(times, queries, strict=True), reverse=True)[:k]
    print(f"\n  phase breakdown of the {k} slowest highlighted queries (ms):")
    for ms, text in slow:
        backend._cache.clear()
        phases = phase_breakdown(backend, text)
        parts = "  ".join(f"{name} {value * 1000:.1f}" for name, value in phases.items() if name != "hits")
        print(f"    {text!r:24} measured {ms:6.1f}: {parts}  (hits {phases['hits']})")
    prof = cProfile.Profile()
    for _, text in slow:
        backend._cache.clear()
        prof.enable()
        backend.search(SearchQuery(text))
        prof.disable()
    stream = io.StringIO()
    pstats.Stats(prof, stream=stream).sort_stats("tottime").print_stats(18)
    print("  cProfile of those queries (by own time):")
    for line in stream.getvalue().splitlines():
        if line.strip() and not line.startswith(("   Ordered", "         ")) or "ncalls" in line:
            print("    " + line[:150])
    stream = io.StringIO()
    pstats.Stats(prof, stream=stream).sort_stats("cumulative").print_stats("whoosh_backend|searching|highlight", 14)
    print("  cProfile (cumulative, backend / searching / highlight):")
    for line in stream.getvalue().splitlines():
        if "ncalls" in line or ("/" in line and "(" in line):
            print("    " + line[:150])


# =========================================================================== one corpus

@dataclass
class Figures:
    build_rate: float
    p95_hl: float


def bench_corpus(label: str, docs: list[IndexDocument], args, work: Path, p95_target: float | None,
                 searchable: bool, quality: bool) -> Figures:
    print(f"\n=== {label}: {len(docs):,} documents ===")
    root = work / label.replace(" ", "-")
    backend = WhooshBackend(str(root))
    started = time.perf_counter()
    backend.rebuild(docs)
    build = time.perf_counter() - started
    rate = len(docs) / build
    index_dir = backend.current_dir()
    print(f"Whoosh rebuild: {build:7.1f} s = {rate:7,.0f} docs/s   index {dir_mb(index_dir):7.1f} MB"
          f"   [target >= {TARGETS['build']:.0f} docs/s: {verdict(rate >= TARGETS['build'])}]")

    fts = Fts5(work / f"{root.name}.fts5.db")
    fts_build = fts.build(docs)
    fts_size = sum(p.stat().st_size for p in work.glob(f"{root.name}.fts5.db*")) / 1e6
    print(f"FTS5 build (incl. segmentation): {fts_build:7.1f} s = {len(docs) / fts_build:7,.0f} docs/s"
          f"   db {fts_size:7.1f} MB")

    queries = make_queries(docs, args.queries + 5, args.seed)
    open_queries, queries = queries[:5], queries[5:]
    fresh_obj, child = open_times(root, open_queries)
    print(f"open: fresh backend object, first search {fresh_obj * 1000:6.0f} ms;  fresh process: import "
          f"{child['import'] * 1000:.0f} ms, first search {child['first'] * 1000:.0f} ms, "
          f"second {child['second'] * 1000:.0f} ms")

    spaced = sum(" " in q for q in queries)
    print(f"queries: {len(queries)} unique ({spaced} typed with spaces), 1-3 words; result cache cleared "
          f"before each; segmenter {SEGMENTER}")
    hl_times, totals, fallbacks = whoosh_queries(backend, queries, True)
    plain_times, _, _ = whoosh_queries(backend, queries, False)
    f_hl, f_totals = fts.queries(queries, True)
    f_plain, _ = fts.queries(queries, False)
    mismatched = sum(a != b for a, b in zip(totals, f_totals, strict=True))
    print(f"hits a query: median {statistics.median(totals):,.0f}, max {max(totals):,}; OR fallback "
          f"{fallbacks}/{len(queries)}; totals differing Whoosh vs FTS5: {mismatched}")
    target = ""
    if p95_target is not None:
        target = f"   [target p95 <= {p95_target:.0f} ms: {verdict(pct(hl_times, 95) <= p95_target)}]"
    print(f"  Whoosh + highlights   {fmt_lat(hl_times)}{target}")
    print(f"  Whoosh, no highlights {fmt_lat(plain_times)}")
    print(f"  FTS5 + snippet()      {fmt_lat(f_hl)}")
    print(f"  FTS5, no snippets     {fmt_lat(f_plain)}")
    print(f"  ratio Whoosh/FTS5 (p50 / p95): highlights {pct(hl_times, 50) / pct(f_hl, 50):.1f}x / "
          f"{pct(hl_times, 95) / pct(f_hl, 95):.1f}x;  no highlights {pct(plain_times, 50) / pct(f_plain, 50):.1f}x"
          f" / {pct(plain_times, 95) / pct(f_plain, 95):.1f}x;  rebuild time {build / fts_build:.1f}x")

    if searchable:
        lat = searchable_within(backend, docs, args.seed)
        print(f"searchable after apply([doc]): p50 {statistics.median(lat):.2f} s  max {max(lat):.2f} s over "
              f"{len(lat)}   [target max <= {TARGETS['searchable']:.0f} s: "
              f"{verdict(max(lat) <= TARGETS['searchable'])}]")
    if quality:
        search_quality(backend, fts, docs, args.seed)
    if args.profile:
        profile_slowest(backend, queries, hl_times, args.profile)
    fts.db.close()
    return Figures(rate, pct(hl_times, 95))


def searchable_within(backend: WhooshBackend, docs: list[IndexDocument], seed: int) -> list[float]:
    rng = random.Random(seed + 7)
    base = max(d.question_id for d in docs)
    latencies = []
    for i in range(20):
        template = rng.choice(docs)
        marker = f"bench{seed}x{i}q"
        doc = IndexDocument(question_id=base + 1 + i, number=f"NEW{i}", title=f"{template.title} {marker}",
                            body=template.body, reply=template.reply, department=template.department,
                            department_name=template.department_name, category=template.category,
                            published_at=template.published_at)
        started = time.perf_counter()
        backend.apply([doc], [])
        while True:
            backend._cache.clear()
            hits = backend.search(SearchQuery(marker, highlight=False)).hits
            if any(h.question_id == doc.question_id for h in hits):
                break
            if time.perf_counter() - started > 30:
                break
            time.sleep(0.005)
        latencies.append(time.perf_counter() - started)
    return latencies


def body_keywords(doc: IndexDocument, extract) -> str:
    """A known-item query from the body alone: its top jieba TF-IDF keywords that are not in the title."""
    title_words = set(query_terms(doc.title))
    words = [w for w in extract(doc.body, topK=10) if w not in title_words and w not in doc.title]
    return " ".join(words[:3])


def report(line: str, misses: list[tuple[str, str, int]]) -> None:
    """A quality line and its first misses."""
    print(line)
    for text, title, total in misses[:6]:
        print(f"  miss: {text!r} for {title!r} ({total} hits)")


def search_quality(backend: WhooshBackend, fts: Fts5, docs: list[IndexDocument], seed: int) -> None:
    import jieba
    import jieba.analyse

    jieba.setLogLevel(60)
    sample = random.Random(seed).sample(docs, min(300, len(docs)))
    at1 = at5 = fallback = empty = 0
    misses = []
    for doc in sample:
        words = jieba.analyse.extract_tags(doc.title, topK=3)
        text = " ".join(words)
        backend._cache.clear()
        result = backend.search(SearchQuery(text, per_page=5, highlight=False))
        ids = [h.question_id for h in result.hits]
        at1 += bool(ids) and ids[0] == doc.question_id
        at5 += doc.question_id in ids[:5]
        fallback += not result.matched_all_words
        empty += not words
        if doc.question_id not in ids[:5]:
            misses.append((text, doc.title, result.total))
    n = len(sample)
    report(f"quality ({n} titles, jieba TF-IDF top-3 keywords joined by spaces): recall@5 {at5 / n:.3f} "
           f"[target >= {TARGETS['recall5']}: {verdict(at5 / n >= TARGETS['recall5'])}]  recall@1 {at1 / n:.3f}  "
           f"OR fallback {fallback / n:.1%}  no keywords {empty}", misses)

    # Body words: every question of the corpus, queried by its body's keywords that are not in its title.
    w_at10 = f_at10 = 0
    misses = []
    for doc in docs:
        text = body_keywords(doc, jieba.analyse.extract_tags)
        backend._cache.clear()
        result = backend.search(SearchQuery(text, per_page=10, highlight=False))
        found = doc.question_id in [h.question_id for h in result.hits]
        w_at10 += found
        f_at10 += doc.question_id in [row[0] for row in fts.search(text, False)[1]]
        if not found:
            misses.append((text, doc.title, result.total))
    report(f"quality ({len(docs)} bodies, top-3 jieba TF-IDF keywords of the body not in the title): recall@10 "
           f"Whoosh {w_at10 / len(docs):.3f}, FTS5 bm25 {f_at10 / len(docs):.3f} (same queries, same run)   "
           f"[target Whoosh >= FTS5: {verdict(w_at10 >= f_at10)}]", misses)


# =========================================================================== main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000], help="generated corpus size(s)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10k generated documents, 100 queries")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="profile the K slowest queries")
    parser.add_argument("--corpus", type=Path, default=None, help="real corpus folder")
    parser.add_argument("--keep", action="store_true", help="keep the temporary index directory")
    args = parser.parse_args()
    if args.quick:
        args.docs, args.queries = [10_000], 100

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="search-bench-"))
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, segmenter {SEGMENTER}, "
          f"{os.cpu_count()} cpus, work dir {work}")
    summary = []
    try:
        if not args.skip_real:
            docs = real_corpus(args.corpus)
            fig = bench_corpus("real corpus", docs, args, work, None, searchable=False, quality=True)
            summary.append(("real", fig))
        if not args.skip_generated:
            for n in sorted(args.docs):
                started = time.perf_counter()
                docs = generated_corpus(n, args.seed)
                print(f"\n(generated corpus {n:,}: {time.perf_counter() - started:.1f} s, cached in {CACHE_DIR})")
                target = TARGETS["p95_100k"] if n >= 100_000 else TARGETS["p95_10k"] if n <= 10_000 else None
                fig = bench_corpus(f"generated {n}", docs, args, work, target, searchable=n == max(args.docs),
                                   quality=False)
                summary.append((n, fig))
                shutil.rmtree(work / f"generated-{n}", ignore_errors=True)
                del docs
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\ntotal run time: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
