"""Monthly topics (每月一题) API: list, set, read, change or close, export."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from geo.domain.topics import TopicDraft
from geo.services import reports
from geo.services import topics as topic_service
from webmap.auth import current
from webmap.db import commit, get_session
from webmap.schemas import ApiBlueprint, ApiError, TopicChange, TopicCreate, TopicQuery

bp = ApiBlueprint("topics", __name__, url_prefix="/api", description="每月一题")

MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _reading() -> reports.Reading:
    # Topics are read and written on the primary, so the facts may be brought up to date here.
    return reports.Reading(max_backlog=int(current_app.config["GRIDMAP_STATS_MAX_BACKLOG"]))


@bp.get("/topics")
@bp.arguments(TopicQuery, location="query")
@bp.response(200)
def list_topics(query: dict[str, Any]) -> Response:
    """您范围内的每月一题（部门人员：本部门牵头的），每题带本月与上月的案件数和三率（分子分母并列）及变化。"""
    topics = topic_service.list_topics(get_session(), current(), month=query.get("month"), reading=_reading())
    commit()  # the fact table caught up with new events
    return jsonify(topics=topics)


@bp.post("/topics")
@bp.arguments(TopicCreate)
@bp.response(201)
@bp.alt_response(403, schema=ApiError, description="只有规划/分析人员和管理员，且目标在其范围内")
@bp.alt_response(422, schema=ApiError)
def create_topic(body: dict[str, Any]) -> tuple[Response, int]:
    """设立每月一题：题目、分类、目标区划、月份、牵头部门、协办部门、目标、任务；
    可用 from_recurring 从重复问题候选预填。"""
    draft = TopicDraft(title=body["title"], category=body["category"], targets=tuple(body["targets"]),
                       month=body["month"] or "", lead_department=body["lead_department"],
                       co_departments=tuple(body["co_departments"]), goal=body["goal"], tasks=body["tasks"])
    topic = topic_service.create(get_session(), current(), draft, from_recurring=body["from_recurring"],
                                 reading=_reading())
    commit()
    return jsonify(topic), 201


@bp.get("/topics/<int:topic_id>")
@bp.arguments(TopicQuery, location="query")
@bp.response(200)
@bp.alt_response(404, schema=ApiError)
def get_topic(query: dict[str, Any], topic_id: int) -> Response:
    """一个题目：本月（或 month）与上月的数字及变化、目标区划名称、全部事件。"""
    topic = topic_service.get_topic(get_session(), current(), topic_id, month=query.get("month"), reading=_reading())
    commit()
    return jsonify(topic)


@bp.patch("/topics/<int:topic_id>")
@bp.arguments(TopicChange)
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(409, schema=ApiError, description="题目已结束")
def change_topic(body: dict[str, Any], topic_id: int) -> Response:
    """规划人员修改目标、任务，或结束题目（close: true）；每次修改都记为事件。"""
    topic = topic_service.update(get_session(), current(), topic_id,
                                 topic_service.TopicChange(body["goal"], body["tasks"], body["close"]),
                                 reading=_reading())
    commit()
    return jsonify(topic)


def _file(result: topic_service.TopicFile, fmt: str) -> Response:
    response = Response(result.data, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{result.name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/topics.<fmt>")
@bp.arguments(TopicQuery, location="query")
@bp.response(200)
@bp.alt_response(404, schema=ApiError, description="格式不存在")
def export_topics(query: dict[str, Any], fmt: str) -> Response:
    """导出您可见的每月一题及其数字：csv（UTF-8 带 BOM，中文表头）或 xlsx。"""
    result = topic_service.export(get_session(), current(), fmt, month=query.get("month"), reading=_reading())
    commit()
    return _file(result, fmt)


@bp.get("/topics/<int:topic_id>.<fmt>")
@bp.arguments(TopicQuery, location="query")
@bp.response(200)
@bp.alt_response(404, schema=ApiError)
def export_topic(query: dict[str, Any], topic_id: int, fmt: str) -> Response:
    """导出一个题目及其数字：csv 或 xlsx。"""
    result = topic_service.export(get_session(), current(), fmt, topic_id=topic_id, month=query.get("month"),
                                  reading=_reading())
    commit()
    return _file(result, fmt)
