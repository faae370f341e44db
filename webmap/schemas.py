"""Request and response schemas: they validate requests and generate /api/openapi.json."""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from marshmallow import Schema, ValidationError, fields, validate
from webargs.flaskparser import FlaskParser

from geo.domain.addresses import ADDRESS_MAX
from geo.domain.cases import DESCRIPTION_MAX, EXTERNAL_ID_MAX
from geo.domain.deadlines import URGENCIES
from geo.domain.filters import SORTS
from geo.domain.requesters import EMAIL_MAX, NAME_MAX, REQUEST_TYPES
from geo.domain.whistles import REASONS as WHISTLE_REASONS
from geo.domain.whistles import SCORE_ASPECTS, SCORE_MAX, SCORE_MIN
from geo.domain.workflow import ACTIONS
from geo.services.whistles import CASES_MAX as WHISTLE_CASES_MAX
from geo.services.whistles import LIST_STATUSES as WHISTLE_STATUSES
from geo.services.whistles import PAGE_MAX as WHISTLE_PAGE_MAX

_REQUIRED: dict[str, Any] = {"required": "必填。", "null": "不能为空（null）。"}


class StrictFloat(fields.Float):
    """A JSON number: strings, booleans, NaN and infinities are refused."""

    default_error_messages: dict[str, Any] = {  # noqa: RUF012 - marshmallow's own attribute
        **fields.Float.default_error_messages, "invalid": "必须是数字。", "special": "不能是 NaN 或无穷大。"}

    def _validated(self, value: Any) -> float:
        if isinstance(value, (str, bool)):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictInteger(fields.Integer):
    """A JSON integer: strings, booleans and fractions are refused."""

    default_error_messages: dict[str, Any] = {  # noqa: RUF012 - marshmallow's own attribute
        **fields.Integer.default_error_messages, "invalid": "必须是整数。"}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _validated(self, value: Any) -> int:
        if isinstance(value, (str, bool)):
            raise self.make_error("invalid")
        return super()._validated(value)


class Text(fields.String):
    default_error_messages: dict[str, Any] = {  # noqa: RUF012 - marshmallow's own attribute**fields.String.default_error_messages,
                                                         "invalid": "必须是文字。"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        # PostgreSQL text cannot hold NUL: dropped here (as geo.domain.cases does for case text), so a filter
        # such as ?category=%00 never reaches the database as a 500.
        return str(super()._deserialize(value, attr, data, **kwargs)).replace("\x00", "")


class _JsonParser(FlaskParser):
    """webargs' parser, except that a body json.loads refuses with a plain ValueError (an integer of
    more than 4,300 digits) or cannot nest (thousands of brackets: RecursionError) is invalid JSON
    (400) like any other, not an unhandled error (500)."""

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (ValueError, RecursionError) as exc:
            raise json.JSONDecodeError(f"JSON 无法读取（{type(exc).__name__}）", "body", 0) from exc


class ApiBlueprint(flask_smorest.Blueprint):
    """The blueprint of API endpoints that take JSON bodies."""

    ARGUMENTS_PARSER = _JsonParser()


class CaseCreate(Schema):
    """A new case (a grid worker's pin, an API client, a whistle)."""

    lon = StrictFloat(load_default=None, allow_nan=False, error_messages=_REQUIRED,
                      metadata={"description": "经度（按 crs）；不给经纬度时按 address 在地址库中定位",
                                "example": 116.3912})
    lat = StrictFloat(load_default=None, allow_nan=False, error_messages=_REQUIRED,
                      metadata={"description": "纬度（按 crs）", "example": 39.9075})
    address = Text(load_default=None, validate=validate.Length(max=ADDRESS_MAX), metadata={
        "description": "地址（标准地址或门牌）：不给 lon/lat 时，案件放在地址库（gridmap addresses load）中与之匹配的"
                       "地址处，并记下匹配到的地址；找不到时 422（field=address）",
        "example": "西城区西直门内大街12号"})
    crs = Text(load_default="wgs84", metadata={
        "description": "坐标系：wgs84、cgcs2000、gcj02（高德/腾讯）、bd09（百度）或 EPSG:n", "example": "gcj02"})
    category = Text(required=True, error_messages=_REQUIRED,
                    metadata={"description": "4 位问题分类编码（见 /api/categories）", "example": "0101"})
    description = Text(load_default="", validate=validate.Length(max=DESCRIPTION_MAX),
                       metadata={"description": f"问题描述，最多 {DESCRIPTION_MAX} 字"})
    urgency = Text(load_default=None, allow_none=True, validate=validate.OneOf(URGENCIES),
                   metadata={"description": "紧急程度；默认取分类的默认值"})
    external_id = Text(load_default=None, allow_none=True, validate=validate.Length(max=EXTERNAL_ID_MAX),
                       metadata={"description": "来源系统中的编号；与 source 一起唯一"})
    source = Text(load_default="api", metadata={"description": "来源，如 api、grid_worker、12345"})
    reported_at = Text(load_default=None, allow_none=True, metadata={
        "description": "发生/受理时间，ISO 8601；无时区按 Asia/Shanghai", "example": "2026-11-28T09:30:00+08:00"})
    requester_name = Text(load_default=None, allow_none=True, validate=validate.Length(max=NAME_MAX), metadata={
        "description": f"诉求人姓名（个人信息，最多 {NAME_MAX} 字）：只有 12345 接诉中心和办理中的主责部门看到全名，"
                       "其他人看到脱敏的「张*」；不进入导出、统计、Open311 和日志", "example": "张三"})
    requester_phone = Text(load_default=None, allow_none=True, metadata={
        "description": "诉求人联系电话（个人信息）：11 位手机号或带区号的固定电话，可带 +86、空格或连字符；"
                       "其他人看到 138****1234。有电话时，联系和办结会通知诉求人", "example": "13900001111"})
    requester_email = Text(load_default=None, allow_none=True, validate=validate.Length(max=EMAIL_MAX), metadata={
        "description": "诉求人电子邮箱（个人信息，没有电话时用于通知）", "example": "zhang@example.com"})
    request_type = Text(load_default=None, allow_none=True, metadata={
        "description": "诉求类型：" + "、".join(f"{code}（{name}）" for code, name in REQUEST_TYPES.items())
                       + "；也可写中文名", "example": "complaint"})


class CaseAction(Schema):
    """One step of the lifecycle."""

    action = Text(required=True, error_messages=_REQUIRED, validate=validate.OneOf(tuple(ACTIONS)),
                  metadata={"description": "操作名", "example": "dispatch"})
    note = Text(load_default="", validate=validate.Length(max=2000),
                metadata={"description": "备注。必须填写：退回、挂账、不予立案、核查不通过、重办、驳回延期的原因；"
                                         "办结的结果；申请延期的理由；督办意见；备注（note）的内容"})
    lead_department = Text(load_default=None, allow_none=True, metadata={
        "description": "派遣（dispatch）时改派的主责部门编码（可为下属单位）；不填保持原主责部门", "example": "ZJW"})
    co_departments = fields.List(Text(), load_default=None, allow_none=True,
                                 metadata={"description": "派遣时的协办部门编码（与 lead_department 一起给出）"})
    resolve_due = fields.AwareDateTime(load_default=None, allow_none=True, metadata={
        "description": "申请延期（extend）：新的办结时限，ISO 8601 带时区", "example": "2026-12-20T18:00:00+08:00"})
    lon = StrictFloat(load_default=None, allow_none=True, allow_nan=False)
    lat = StrictFloat(load_default=None, allow_none=True, allow_nan=False)
    crs = Text(load_default="wgs84")
    contacted = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "回访：是否联系上"})
    solved = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "回访：是否解决"})
    satisfied = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "回访：是否满意"})


class WhistleCreate(Schema):
    case_ids = fields.List(Text(), required=True, error_messages=_REQUIRED,
                           validate=validate.Length(1, WHISTLE_CASES_MAX))
    lead_department = Text(required=True, error_messages=_REQUIRED)
    co_departments = fields.List(Text(), load_default=list)
    reason = Text(required=True, error_messages=_REQUIRED, validate=validate.OneOf(WHISTLE_REASONS),
                  metadata={"description": "群众诉求、重点工作、综合执法、应急处置"})
    note = Text(load_default="", validate=validate.Length(max=2000))


class WhistleReport(Schema):
    lon = StrictFloat(required=True, allow_nan=False, error_messages=_REQUIRED)
    lat = StrictFloat(required=True, allow_nan=False, error_messages=_REQUIRED)
    crs = Text(load_default="wgs84")


class WhistleQuery(Schema):
    status = Text(load_default="open", validate=validate.OneOf(WHISTLE_STATUSES),
                  metadata={"description": "open（进行中，默认）、closed（已结束）或 all"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, WHISTLE_PAGE_MAX))
    cursor = Text(metadata={"description": "上一页返回的 next"})


#: The whistler's score of one summoned department for this round (街道考核部门): one integer per aspect.
WhistleScore = Schema.from_dict({
    "department": Text(required=True, error_messages=_REQUIRED, metadata={"description": "被召集部门编码"}),
    **{aspect: StrictInteger(required=True, error_messages=_REQUIRED, validate=validate.Range(SCORE_MIN, SCORE_MAX),
                             metadata={"description": f"{name}（{SCORE_MIN}–{SCORE_MAX}）"})
       for aspect, name in SCORE_ASPECTS.items()},
    "note": Text(load_default="", validate=validate.Length(max=2000), metadata={"description": "评语"}),
}, name="WhistleScore")


class NearbyQuery(Schema):
    lon = fields.Float(required=True, allow_nan=False, error_messages=_REQUIRED)
    lat = fields.Float(required=True, allow_nan=False, error_messages=_REQUIRED)
    category = Text(required=True, error_messages=_REQUIRED)
    crs = Text(load_default="wgs84")


class PlacementQuery(Schema):
    lon = fields.Float(required=True, allow_nan=False, error_messages=_REQUIRED)
    lat = fields.Float(required=True, allow_nan=False, error_messages=_REQUIRED)
    crs = Text(load_default="wgs84", metadata={"description": "wgs84（默认）、gcj02、bd09 或 EPSG:n"})


class CaseQuery(Schema):
    status = Text(metadata={"description": "状态，逗号分隔"})
    category = Text(metadata={"description": "分类编码，逗号分隔"})
    area = Text(metadata={"description": "区划编码前缀（区、街道、社区或网格）"})
    district = Text()
    street = Text()
    community = Text()
    grid = Text()
    bbox = Text(metadata={"description": "最小经度,最小纬度,最大经度,最大纬度（WGS84）"})
    source = Text()
    from_ = Text(data_key="from", metadata={"description": "受理时间起（含）"})
    to = Text(metadata={"description": "受理时间止（不含）"})
    overdue = fields.Boolean(metadata={"description": "true：只看超期；false：只看未超期"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    zoom = fields.Float(validate=validate.Range(0, 24), metadata={"description": "地图缩放级别（仅 /api/cases/map）"})
    cursor = Text(metadata={"description": "上一页返回的 next"})
    mine = fields.Boolean(metadata={"description": "true：只看我上报的案件（我的上报）"})
    sort = Text(validate=validate.OneOf(tuple(SORTS)), metadata={
        "description": "列表排序（给出 sort 或 page 时按页返回，带 total、page、pages）："
                       + "、".join(f"{k}（{v}）" for k, v in SORTS.items())})
    page = fields.Integer(validate=validate.Range(1, 1_000_000), metadata={"description": "页码，从 1 开始"})


class SearchQuery(Schema):
    q = Text(load_default="", metadata={"description": "案件编号、12345 工单号、区划编码或名称、地址"})
    limit = fields.Integer(load_default=10, validate=validate.Range(1, 50))


class ErrorBody(Schema):
    code = Text()
    message = Text()
    field = Text(allow_none=True)


class ApiError(Schema):
    error = fields.Nested(ErrorBody)


def first_error(messages: Any) -> tuple[str | None, str]:
    """The first (field, message) of webargs/marshmallow error messages."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("json", "query", "form", "querystring", "view_args", "files"):
                return first_error(value)
            field, message = first_error(value)
            return (str(key) if field is None else field), message
    if isinstance(messages, list) and messages:
        return first_error(messages[0])
    return None, str(messages)


__all__ = ["ApiBlueprint", "ApiError", "CaseCreate", "CaseQuery", "NearbyQuery", "StrictFloat", "ValidationError",
           "first_error"]


class StatsQuery(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "受理日期起（含），YYYY-MM-DD，北京时间"})
    to = fields.Date(metadata={"description": "受理日期止（含），YYYY-MM-DD"})
    fields_ = Text(data_key="fields", metadata={"description": "只返回这些列，逗号分隔（仅 json）"})
    w_response = fields.Float(validate=validate.Range(0, 1000), allow_nan=False,
                              metadata={"description": "综合得分中响应率的权重（默认 GRIDMAP_SCORE_WEIGHTS）"})
    w_resolution = fields.Float(validate=validate.Range(0, 1000), allow_nan=False)
    w_satisfaction = fields.Float(validate=validate.Range(0, 1000), allow_nan=False)
    request_type = Text(metadata={"description": "只统计这一诉求类型的案件："
                                  + "、".join(f"{code}（{name}）" for code, name in REQUEST_TYPES.items())})
    excel = fields.Boolean(load_default=False, metadata={
        "description": "仅 csv：true 时为 Excel 用（中文表头，编码写成 =\"…\" 保持文本）"})


class TrendQuery(Schema):
    level = Text(load_default="district", metadata={"description": "district、street、community 或 grid"})
    code = Text(metadata={"description": "该层级的编码；不填为全部案件"})
    months = fields.Integer(load_default=12, validate=validate.Range(1, 120))
    request_type = Text(metadata={"description": "只统计这一诉求类型的案件（代码或中文名）"})


class HotspotQuery(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "受理日期起（含），YYYY-MM-DD"})
    to = fields.Date(metadata={"description": "受理日期止（含）"})
    category = Text(metadata={"description": "分类编码（4 位）或大类编码（2 位），逗号分隔"})
    status = Text(load_default="all", validate=validate.OneOf(["all", "open", "closed"]),
                  metadata={"description": "all（不含不予立案）、open（未结案）或 closed"})
    bbox = Text(metadata={"description": "最小经度,最小纬度,最大经度,最大纬度（h3、heat）"})
    zoom = fields.Float(validate=validate.Range(0, 24), metadata={"description": "地图级别，用于简化边界"})
    resolution = fields.Integer(load_default=8, validate=validate.Range(5, 11),
                                metadata={"description": "H3 分辨率（5–11，默认 8 ≈ 0.7 km²）"})
    all_ = fields.Boolean(data_key="all", load_default=False,
                          metadata={"description": "Gi*：也返回不显著的网格（默认只返回冷热点）"})


class ChangeQuery(Schema):
    a_from = fields.Date(required=True, metadata={"description": "基期起（含）"})
    a_to = fields.Date(required=True, metadata={"description": "基期止（含）"})
    b_from = fields.Date(required=True, metadata={"description": "对比期起（含）"})
    b_to = fields.Date(required=True, metadata={"description": "对比期止（含）"})
    category = Text()
    zoom = fields.Float(validate=validate.Range(0, 24))


class RecurringQuery(Schema):
    min_count = fields.Integer(load_default=3, validate=validate.Range(2, 1000),
                               metadata={"description": "同一网格同一分类至少几次"})
    days = fields.Float(load_default=30, validate=validate.Range(1, 366), allow_nan=False,
                        metadata={"description": "在多少天内"})
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    category = Text()


class RecurringCandidate(Schema):
    grid_code = Text(required=True, error_messages=_REQUIRED, metadata={"description": "网格编码"})
    category = Text(required=True, error_messages=_REQUIRED, metadata={"description": "分类编码"})


class TopicCreate(Schema):
    """A monthly topic (每月一题); with ``from_recurring`` the grid and category (and an empty title) come
    from a recurring-problem candidate of /api/hotspots/recurring.json."""

    title = Text(load_default="", metadata={"description": "题目", "example": "某某网格暴露垃圾"})
    category = Text(load_default="", metadata={"description": "4 位分类编码或 2 位大类编码", "example": "0101"})
    targets = fields.List(Text(), load_default=list, metadata={
        "description": "目标区划编码（区、街道、社区或网格，可多个）", "example": ["110101002"]})
    month = Text(load_default=None, allow_none=True, metadata={"description": "月份 YYYY-MM；默认本月",
                                                               "example": "2026-11"})
    lead_department = Text(required=True, error_messages=_REQUIRED, metadata={"description": "牵头部门编码"})
    co_departments = fields.List(Text(), load_default=list, metadata={"description": "协办部门编码"})
    goal = Text(load_default="", metadata={"description": "目标"})
    tasks = Text(load_default="", metadata={"description": "任务"})
    from_recurring = fields.Nested(RecurringCandidate, load_default=None, allow_none=True,
                                   metadata={"description": "从重复问题候选预填：{grid_code, category}"})


class TopicChange(Schema):
    goal = Text(load_default=None, allow_none=True, metadata={"description": "新的目标"})
    tasks = Text(load_default=None, allow_none=True, metadata={"description": "新的任务"})
    close = fields.Boolean(load_default=False, metadata={"description": "true：结束这个题目"})


class TopicQuery(Schema):
    month = Text(metadata={
        "description": "月份 YYYY-MM：列表只看这个月的题目；单个题目看这个月的数字（默认题目所在月）"})
