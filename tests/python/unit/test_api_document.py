"""The OpenAPI document against the server, in-process on fake engines: what the document refuses the server
refuses (400), what it allows the server takes (201, or 409/422 for what no schema can know), every
operation declares what it can answer. The full fuzzing is ``test_api_contract.py``; these are the fast,
named cases (each a disagreement found once)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, Counter

from krtasks.web import routes_api
from krtasks.web.openapi import openapi_document
from krtasks.web.protocol_log import ProtocolLog
from unit.http import AUTH, create, problem

DOC = openapi_document()
OPERATIONS = [
    (path, method, op) for path, item in DOC["paths"].items() for method, op in item.items() if method != "parameters"
]

# JSON Schema 2020-12 keywords (core, applicator, validation, content, meta-data) and OpenAPI's additions.
KEYWORDS = {
    "$ref", "$defs", "type", "enum", "const", "properties", "additionalProperties", "propertyNames", "required",
    "items", "prefixItems", "anyOf", "oneOf", "allOf", "not", "pattern", "minLength", "maxLength", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems", "minProperties", "maxProperties",
    "format", "description", "default", "examples", "contentMediaType", "contentSchema", "uniqueItems",
}  # fmt: skip


def _schemas(node: Any, under_properties: bool = False) -> Iterator[dict[str, Any]]:
    """Every schema object in a component schema (property maps are walked, not taken for schemas)."""
    if isinstance(node, dict):
        if not under_properties:
            yield node
        for key, value in node.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    yield from _schemas(sub)
            elif key in ("items", "additionalProperties", "propertyNames", "contentSchema", "not"):
                yield from _schemas(value)
            elif key in ("anyOf", "oneOf", "allOf", "prefixItems"):
                for sub in value:
                    yield from _schemas(sub)


def test_schemas_use_only_json_schema_keywords() -> None:
    # pydantic once leaked "ge"/"le" (not JSON Schema: no bound at all for a validator) into the document
    for name, schema in DOC["components"]["schemas"].items():
        for sub in _schemas(schema):
            assert set(sub) <= KEYWORDS, (name, set(sub) - KEYWORDS)


@pytest.mark.parametrize(("path", "method", "op"), OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_operation_declares_what_it_answers(path: str, method: str, op: dict[str, Any]) -> None:
    responses = op["responses"]
    assert "500" in responses
    if path == "/api/v1/health":
        assert op["security"] == []
    else:
        assert op["security"] == [{"bearer": []}, {"session": []}] and "401" in responses
        assert "WWW-Authenticate" in responses["401"]["headers"]
        if method in ("post", "patch", "delete"):
            assert "403" in responses  # a dashboard session's request without its CSRF header
    if "requestBody" in op:
        assert {"400", "413", "415"} <= set(responses)
    if "/{id}" in path:
        assert "404" in responses
    for status, response in responses.items():
        assert "X-Request-Id" in response["headers"], (path, method, status)
        if int(status) >= 400:
            assert list(response["content"]) == ["application/problem+json"]


def test_links_lead_from_create_to_every_task_operation() -> None:
    ids = {op["operationId"] for _, _, op in OPERATIONS}
    per_task = {op["operationId"] for path, _, op in OPERATIONS if "{id}" in path}
    links = DOC["paths"]["/api/v1/tasks"]["post"]["responses"]["201"]["links"]
    assert set(links) == per_task
    for _, _, op in OPERATIONS:
        for response in op["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids and link["parameters"] == {"id": "$response.body#/Id"}


def test_events_have_one_schema_per_kind() -> None:
    content = DOC["paths"]["/api/v1/tasks/{id}/events"]["get"]["responses"]["200"]["content"]
    event = DOC["components"]["schemas"][content["text/event-stream"]["schema"]["$ref"].rsplit("/", 1)[1]]
    kinds = {alt["properties"]["event"]["const"]: alt for alt in event["oneOf"]}
    assert set(kinds) == {"state", "progress", "stream"}
    payload = kinds["state"]["properties"]["data"]
    assert payload["contentMediaType"] == "application/json" and payload["contentSchema"]["$ref"].endswith("TaskRecord")


def _validator(schema_name: str) -> jsonschema_rs.Validator:
    schema = {**DOC["components"]["schemas"][schema_name], "components": DOC["components"]}
    return jsonschema_rs.validator_for(schema)


def test_the_document_describes_exactly_the_registered_routes() -> None:
    documented = {(method.upper(), path) for path, method, _ in OPERATIONS}
    assert documented == {(r.method, r.path) for r in routes_api.routes}  # type: ignore[attr-defined]


async def test_nodes_answer_as_documented(client: TestClient[Any, Any]) -> None:
    r = await client.get("/api/v1/nodes", headers=AUTH)
    assert r.status == 200
    body = await r.json()
    schema = DOC["paths"]["/api/v1/nodes"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert jsonschema_rs.validator_for({**schema, "components": DOC["components"]}).is_valid(body), body
    [alone] = body
    assert alone["Id"] == "local" and alone["Slots"] >= 1 and alone["Running"] == 0
    await problem(await client.get("/api/v1/nodes"), 401)


CREATE_BODIES: list[tuple[dict[str, Any], bool]] = [
    ({"Code": "1"}, True),
    ({"Code": ""}, True),
    ({}, False),
    ({"Code": 1}, False),
    ({"Code": "1", "Bogus": 1}, False),
    ({"Code": "1", "Language": "c#"}, True),
    ({"Code": "1", "Language": "VB.NET"}, True),
    ({"Code": "1", "Language": "cobol"}, False),
    ({"Code": "1", "Language": " ps"}, False),  # Language.parse once stripped: the schema did not
    ({"Code": "1", "Id": "x" * 128}, True),
    ({"Code": "1", "Id": "x" * 129}, False),
    ({"Code": "1", "Id": "bell\u0007"}, False),
    ({"Code": "1", "Id": "  "}, True),  # blank: a new id
    ({"Code": "1", "Name": " a "}, True),
    ({"Code": "1", "Name": " \u3000\t"}, False),
    ({"Code": "1", "Arguments": {"x": [1, {"y": None}]}}, True),
    ({"Code": "1", "Arguments": {"1x": 1}}, False),  # patternProperties let any other key through
    ({"Code": "1", "Arguments": {"": 1}}, False),
    ({"Code": "1", "TimeoutSeconds": 1e-300}, True),
    ({"Code": "1", "TimeoutSeconds": 0}, False),
    ({"Code": "1", "MaxMemoryMB": 128}, True),
    ({"Code": "1", "MaxMemoryMB": 128.0}, True),  # JSON Schema's integer: a zero fraction is an integer
    ({"Code": "1", "MaxMemoryMB": 128.5}, False),
    ({"Code": "1", "MaxMemoryMB": True}, False),
    ({"Code": "1", "MaxMemoryMB": 63}, False),
    ({"Code": "1", "MaxMemoryMB": 10**30}, False),  # beyond SQLite's integers
    ({"Code": "1", "SerializationDepth": 0}, False),  # "ge" in the document bounded nothing
    ({"Code": "1", "SerializationDepth": 16.0}, True),
    ({"Code": "1", "SerializationDepth": 17}, False),
    ({"Code": "1", "WorkingDirectory": ""}, True),  # "": the default directory (was 422, a missing one)
    ({"Code": "1", "WorkingDirectory": "a\u0000b"}, False),
    ({"Code": "1", "Environment": {"A": "1"}}, True),
    ({"Code": "1", "Environment": {"A=B": "1"}}, False),
    ({"Code": "1", "Environment": {"A": 1}}, False),
    ({"Code": "1", "ExtraImports": [""]}, False),
    ({"Code": "1", "ParentId": None, "Name": None, "Arguments": None}, True),
]


@pytest.mark.parametrize(("body", "valid"), CREATE_BODIES)
async def test_create_body_schema_and_server_agree(
    client: TestClient[Any, Any], body: dict[str, Any], valid: bool
) -> None:
    assert _validator("CreateTask").is_valid(body) is valid, body
    r = await client.post("/api/v1/tasks", json=body, headers=AUTH)
    if valid:
        assert r.status == 201, await r.text()
    else:
        await problem(r, 400)


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"Name": "n"}, True),
        ({"Description": "d"}, True),
        ({"Name": "n", "Description": "d"}, True),
        ({}, False),
        ({"Name": None}, False),
        ({"Name": " "}, False),
        ({"Name": "n", "Other": 1}, False),
    ],
)
async def test_rename_body_schema_and_server_agree(
    client: TestClient[Any, Any], body: dict[str, Any], valid: bool
) -> None:
    assert _validator("RenameTask").is_valid(body) is valid, body
    task = await create(client, Code="1")
    r = await client.patch(f"/api/v1/tasks/{task['Id']}", json=body, headers=AUTH)
    if valid:
        assert r.status == 200, await r.text()
    else:
        await problem(r, 400)


def _param_schema(path: str, method: str, name: str) -> dict[str, Any]:
    op = DOC["paths"][path][method]
    [param] = [p for p in op.get("parameters", []) if p["name"] == name]
    schema: dict[str, Any] = param["schema"]
    return schema


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ("Limit=5", True),
        ("limit=5", True),  # names are case-insensitive
        ("Limit=%205", False),  # int() took spaces, underscores, '+' and other digits
        ("Limit=1_0", False),
        ("Limit=%2B5", False),
        ("Limit=%D9%A5", False),
        ("Limit=", False),  # an empty value was taken for "absent"
        ("Limit=-1", False),
        ("State=running", True),
        ("State=", False),
        ("State=Sleeping", False),
        ("Language=cs", True),
        ("Language=", False),
        ("ParentId=", True),  # empty: root tasks
        ("Sort=duration", True),
        ("Sort=NAME", True),
        ("Sort=", False),
        ("Sort=size", False),
        ("Order=ASC", True),
        ("Order=", False),
        ("CreatedAfter=2026-11-29T10:00:00Z", True),
        ("CreatedAfter=", False),
        ("CreatedBefore=yesterday", False),
    ],
)
async def test_list_query_is_as_strict_as_documented(client: TestClient[Any, Any], query: str, ok: bool) -> None:
    r = await client.get(f"/api/v1/tasks?{query}", headers=AUTH)
    if ok:
        assert r.status == 200, await r.text()
    else:
        await problem(r, 400)


@pytest.mark.parametrize(
    ("timeout", "ok"), [("0.5", True), ("0", True), ("1e-3", True), ("1e400", False), ("nan", False), ("0x1", False)]
)
async def test_wait_timeout_is_a_json_number(client: TestClient[Any, Any], timeout: str, ok: bool) -> None:
    task = await create(client, Code="1", AutoStart=True)
    r = await client.get(f"/api/v1/tasks/{task['Id']}/wait?Timeout={timeout}", headers=AUTH)
    if ok:
        assert r.status == 200, await r.text()
    else:
        await problem(r, 400, "Timeout")


@pytest.mark.parametrize(("force", "status"), [("true", 204), ("True", 204), ("false", 204), ("1", 400), ("", 400)])
async def test_force_takes_true_or_false(client: TestClient[Any, Any], force: str, status: int) -> None:
    pattern = _param_schema("/api/v1/tasks/{id}", "delete", "Force")
    assert jsonschema_rs.validator_for(pattern).is_valid(force) is (status == 204)
    task = await create(client, Code="1", AutoStart=True)
    await client.get(f"/api/v1/tasks/{task['Id']}/wait", headers=AUTH)
    r = await client.delete(f"/api/v1/tasks/{task['Id']}?Force={force}", headers=AUTH)
    assert r.status == status, await r.text()


def test_query_patterns_match_the_server() -> None:
    state = jsonschema_rs.validator_for(_param_schema("/api/v1/tasks", "get", "State"))
    assert state.is_valid("running") and state.is_valid("NotStarted") and not state.is_valid("")
    language = jsonschema_rs.validator_for(_param_schema("/api/v1/tasks", "get", "Language"))
    assert language.is_valid("C#") and language.is_valid("pwsh") and not language.is_valid("cobol")


async def test_location_is_percent_encoded(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"Code": "1", "Id": "a b?c#d"}, headers=AUTH)
    assert r.status == 201
    assert r.headers["Location"] == "/api/v1/tasks/a%20b%3Fc%23d"
    again = await client.get(r.headers["Location"], headers=AUTH)
    assert again.status == 200 and (await again.json())["Id"] == "a b?c#d"


# --------------------------------------------------------------------------------------------------- malformed HTTP


def test_parser_errors_are_one_warning_line_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    counter = Counter("malformed", "test", ["reason"], registry=CollectorRegistry())
    log = ProtocolLog(logging.getLogger("krtasks.http.test"), counter)
    secret = "Authorization: Bearer s3cret\x00"
    with caplog.at_level(logging.DEBUG, "krtasks.http.test"):
        log.exception(
            "Error handling request from %s", "10.0.0.1", exc_info=BadHttpMessage(f"Invalid char:\n {secret}")
        )
        log.exception("Error handling request from %s", "10.0.0.2", exc_info=LineTooLong("x" * 9000, "8190"))
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.WARNING]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in caplog.records)
    assert "10.0.0.1" in caplog.records[0].getMessage() and "s3cret" not in caplog.text
    assert counter.labels("BadHttpMessage")._value.get() == 1
    assert counter.labels("LineTooLong")._value.get() == 1


def test_other_protocol_errors_keep_their_traceback(caplog: pytest.LogCaptureFixture) -> None:
    counter = Counter("malformed", "test", ["reason"], registry=CollectorRegistry())
    log = ProtocolLog(logging.getLogger("krtasks.http.test"), counter)
    with caplog.at_level(logging.DEBUG, "krtasks.http.test"):
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            log.exception("Unhandled exception")
    [record] = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None
