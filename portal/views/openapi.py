"""The OpenAPI 3.1 document for /api/v1."""

from __future__ import annotations

from typing import Any, NamedTuple

from portal.models.bulletin import INCIDENT_STATUSES, SEVERITIES, UPDATE_KINDS
from portal.models.press import DOCUMENT, IMAGE, RELEASE_TYPES
from portal.models.question import CATEGORIES

_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_NINT = {"type": ["integer", "null"]}


class Param(NamedTuple):
    """What the API accepts for one query parameter (portal/views/api.py enforces it; the document states it)."""

    max_length: int
    pattern: str | None
    message: str


# Months the services accept, on the board and in the press room alike: 1990-2100 (portal.timeutil.parse_month).
MONTH = r"(199[0-9]|20[0-9]{2}|2100)-(0[1-9]|1[0-2])"
QUESTION_PAGE_MAX = 99999
RELEASE_PAGE_MAX = 10000
TOPIC_MAX = 20
PAGE = r"[1-9][0-9]{0,4}"
QUESTION_PARAMS = {
    "department": Param(100, r"[^\x00-\x1f\x7f]+", "没有这个部门。"),  # the document lists the slugs
    "category": Param(8, None, "category 应为 " + "、".join(CATEGORIES) + " 之一。"),
    "month": Param(7, MONTH, "month 应为 YYYY-MM（1990-01 到 2100-12），例如 2026-11。"),
    "page": Param(5, PAGE, f"page 应为 1 到 {QUESTION_PAGE_MAX} 之间的整数。"),
}
RELEASE_PARAMS = {
    "type": Param(20, None, f"type 应为 {'、'.join(RELEASE_TYPES)} 之一。"),
    "topic": Param(TOPIC_MAX, "[^,]*", f"topic 应为一个话题（不超过 {TOPIC_MAX} 个字，不含逗号）。"),
    "month": Param(7, MONTH, "month 应为 YYYY-MM（1990-01 到 2100-12），例如 2026-11。"),
    "page": Param(5, PAGE, f"page 应为 1 到 {RELEASE_PAGE_MAX} 之间的整数。"),
}


def plausible_slug(slug: str) -> bool:
    """A slug worth looking up: no control characters (PostgreSQL refuses NUL) and not absurdly long."""
    return 0 < len(slug) <= 200 and not any(ord(ch) < 32 or ord(ch) == 127 for ch in slug)


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ok(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_ERROR = {"description": "错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
# Every operation may also answer 429 (too many requests) or 5xx, always as JSON with the Error schema.
_OTHER = {"default": {**_ERROR, "description": "其他错误（请求过于频繁、服务器错误等），JSON"}}
_NOT_FOUND = {"404": {**_ERROR, "description": "不存在"}}


def _param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema,
                           "description": description or "可省略；给出时只能出现一次、不能为空"}
    return out


def document(server_url: str, department_slugs: list[str] | None = None) -> dict[str, Any]:
    """The document, with this deployment's server URL and its departments."""
    incident = _obj({
        "slug": _STR, "title": _STR, "status": {"type": "string", "enum": list(INCIDENT_STATUSES)},
        "status_label": _STR, "severity": {"type": "string", "enum": list(SEVERITIES)}, "severity_label": _STR,
        "started_at": _TIME, "next_update_due_at": _NTIME, "pinned": {"type": "boolean"}, "summary_html": _STR,
        "updated_at": _TIME, "url": _STR, "api_url": _STR,
        "feeds": _obj({"rss": _STR, "atom": _STR}),
    })
    update = _obj({
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": list(UPDATE_KINDS)}, "title": _STR,
        "body_html": {"type": "string", "description": "sanitised HTML"}, "author": _STR,
        "published_at": _TIME, "updated_at": _TIME, "edition": {"type": "integer"},
        "corrections": {"type": "array", "items": _obj({"edition": {"type": "integer"}, "note": _STR, "at": _TIME})},
        "withdrawn_at": _NTIME, "withdrawn_reason": {"type": ["string", "null"]},
        "press": {"oneOf": [{"type": "null"}, _obj({"at": _NTIME, "place": {"type": ["string", "null"]},
                                                      "livestream_url": {"type": ["string", "null"]}})]},
        "answers_questions": {"type": "array", "items": _STR}, "url": _STR,
    })
    question = _obj({
        "number": _STR, "title": _STR, "body": _STR, "category": {"type": ["string", "null"]},
        "department": {"type": ["string", "null"]}, "asked_at": _TIME, "published_at": _NTIME,
        "reply": _obj({"department": _STR, "body_html": _STR}), "url": _STR,
    })
    release = _obj({
        "slug": _STR, "type": {"type": "string", "enum": list(RELEASE_TYPES)}, "type_label": _STR, "title": _STR,
        "topics": {"type": "array", "items": _STR}, "department": _NSTR,
        "incident": {"type": ["string", "null"], "description": "相关事件的标识（slug）"}, "author": _STR,
        "published_at": _TIME, "updated_at": _TIME, "edition": _INT,
        "withdrawn_at": {**_NTIME, "description": "已撤回时为撤回时间"}, "withdrawn_reason": _NSTR,
        "url": _STR, "api_url": _STR,
    })
    attachment = _obj({
        "id": _INT, "kind": {"type": "string", "enum": [IMAGE, DOCUMENT]}, "mime": _STR, "filename": _STR,
        "size": {"type": "integer", "description": "字节"}, "width": _NINT, "height": _NINT, "sha256": _STR,
        "caption": _STR, "uploaded_at": _TIME, "url": _STR,
        "rendition_url": {"type": ["string", "null"], "description": "图片的手机版（较大图片才有）"},
    })
    release_detail = {"allOf": [
        {"$ref": "#/components/schemas/Release"},
        _obj({
            "rumour_html": {"type": "string", "description": "辟谣稿的网传说法（sanitised HTML）；已撤回时为空"},
            "body_html": {"type": "string", "description": "sanitised HTML；已撤回时为空"},
            "corrections": {"type": "array", "items": _obj({"edition": _INT, "note": _STR, "at": _TIME})},
            "attachments": {"type": "array", "description": "已撤回时为空",
                            "items": {"$ref": "#/components/schemas/Attachment"}},
        }),
    ]}
    release_filters = [
        _param("type", {"type": "string", "enum": list(RELEASE_TYPES)}),
        _param("topic", {"type": "string", "minLength": 1, "maxLength": TOPIC_MAX,
                         "pattern": f"^{RELEASE_PARAMS['topic'].pattern}$"}, "一个话题（不含逗号）；前后空白不计"),
        _param("month", {"type": "string", "pattern": f"^{MONTH}$"}, "发布月份（北京时间）"),
        _param("page", {"type": "integer", "minimum": 1, "maximum": RELEASE_PAGE_MAX}),
    ]
    slugs = list(department_slugs or [])
    filters = [
        _param("department", {"type": "string", "enum": slugs} if slugs else {"not": {}}, "部门标识（slug）"),
        _param("category", {"type": "string", "enum": list(CATEGORIES)}),
        _param("month", {"type": "string", "pattern": f"^{MONTH}$"}, "答复月份（北京时间）"),
        _param("page", {"type": "integer", "minimum": 1, "maximum": QUESTION_PAGE_MAX}),
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "云溪县信息发布平台只读接口", "version": "1.0.0",
                 "description": "突发事件通报、新闻发布稿件和已公开的网友留言答复。时间为 ISO 8601（UTC）。"},
        "servers": [{"url": server_url}],
        "paths": {
            "/incidents": {"get": {"summary": "事件列表（进行中的在前）", "operationId": "listIncidents",
                                   "responses": {"200": _ok("IncidentList", "事件列表"), **_OTHER}}},
            "/incidents/{slug}": {"get": {
                "summary": "单个事件及其通报（最新在前）", "operationId": "getIncident",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _STR}],
                "responses": {"200": _ok("IncidentDetail", "事件"), **_NOT_FOUND, **_OTHER}}},
            "/questions": {"get": {"summary": "已公开的留言和答复", "operationId": "listQuestions",
                                   "parameters": filters,
                                   "responses": {"200": _ok("QuestionPage", "一页留言"), "400": _ERROR, **_OTHER}}},
            "/releases": {"get": {"summary": "已发布的新闻稿件（最新在前，含已撤回的）", "operationId": "listReleases",
                                  "parameters": release_filters,
                                  "responses": {"200": _ok("ReleasePage", "一页稿件"), "400": _ERROR, **_OTHER}}},
            "/releases/{slug}": {"get": {
                "summary": "单篇稿件：正文、更正说明和附件", "operationId": "getRelease",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _STR}],
                "responses": {"200": _ok("ReleaseDetail", "稿件"), **_NOT_FOUND, **_OTHER}}},
        },
        "components": {"schemas": {
            "Incident": incident,
            "Update": update,
            "IncidentList": _obj({"incidents": {"type": "array", "items": {"$ref": "#/components/schemas/Incident"}}}),
            "IncidentDetail": {"allOf": [
                {"$ref": "#/components/schemas/Incident"},
                _obj({"updates": {"type": "array", "items": {"$ref": "#/components/schemas/Update"}}}),
            ]},
            "Question": question,
            "QuestionPage": _obj({"page": {"type": "integer"}, "pages": {"type": "integer"},
                                  "per_page": {"type": "integer"}, "total": {"type": "integer"},
                                  "questions": {"type": "array", "items": {"$ref": "#/components/schemas/Question"}}}),
            "Release": release,
            "Attachment": attachment,
            "ReleaseDetail": release_detail,
            "ReleasePage": _obj({"page": _INT, "pages": _INT, "per_page": _INT, "total": _INT,
                                 "releases": {"type": "array", "items": {"$ref": "#/components/schemas/Release"}}}),
            "Error": _obj({"error": _STR, "reasons": {"type": "object", "additionalProperties": _STR}}),
        }},
    }
