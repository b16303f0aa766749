"""The OpenAPI 3.1 document for /api/v1."""

from __future__ import annotations

from typing import Any

from portal.models.bulletin import INCIDENT_STATUSES, SEVERITIES, UPDATE_KINDS
from portal.models.press import DOCUMENT, IMAGE, RELEASE_TYPES
from portal.models.question import CATEGORIES

_STR = {"type": "string"}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_NINT = {"type": ["integer", "null"]}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ok(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


_ERROR = {"description": "错误", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def document(server_url: str) -> dict[str, Any]:
    """The document, with this deployment's server URL."""
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
        {"name": "type", "in": "query", "schema": {"type": "string", "enum": list(RELEASE_TYPES)}},
        {"name": "topic", "in": "query", "schema": {"type": "string", "maxLength": 20}, "description": "一个话题"},
        {"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
         "description": "发布月份（北京时间）"},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
    ]
    filters = [
        {"name": "department", "in": "query", "schema": _STR, "description": "部门标识（slug）"},
        {"name": "category", "in": "query", "schema": {"type": "string", "enum": list(CATEGORIES)}},
        {"name": "month", "in": "query", "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$"}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    ]
    return {
        "openapi": "3.1.0",
        "info": {"title": "云溪县信息发布平台只读接口", "version": "1.0.0",
                 "description": "突发事件通报、新闻发布稿件和已公开的网友留言答复。时间为 ISO 8601（UTC）。"},
        "servers": [{"url": server_url}],
        "paths": {
            "/incidents": {"get": {"summary": "事件列表（进行中的在前）", "operationId": "listIncidents",
                                   "responses": {"200": _ok("IncidentList", "事件列表")}}},
            "/incidents/{slug}": {"get": {
                "summary": "单个事件及其通报（最新在前）", "operationId": "getIncident",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _STR}],
                "responses": {"200": _ok("IncidentDetail", "事件"), "404": _ERROR}}},
            "/questions": {"get": {"summary": "已公开的留言和答复", "operationId": "listQuestions",
                                   "parameters": filters,
                                   "responses": {"200": _ok("QuestionPage", "一页留言"), "400": _ERROR}}},
            "/releases": {"get": {"summary": "已发布的新闻稿件（最新在前，含已撤回的）", "operationId": "listReleases",
                                  "parameters": release_filters,
                                  "responses": {"200": _ok("ReleasePage", "一页稿件"), "400": _ERROR}}},
            "/releases/{slug}": {"get": {
                "summary": "单篇稿件：正文、更正说明和附件", "operationId": "getRelease",
                "parameters": [{"name": "slug", "in": "path", "required": True, "schema": _STR}],
                "responses": {"200": _ok("ReleaseDetail", "稿件"), "404": _ERROR}}},
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
