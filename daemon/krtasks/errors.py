"""Errors the task service raises; the HTTP layer maps each to one status code (RFC 9457 problems)."""

from __future__ import annotations

from typing import Any


class TaskError(Exception):
    """Base class of every error the service raises on purpose. ``status`` is the HTTP status it maps to."""

    status = 500
    title = "Task service error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TaskNotFoundError(TaskError):
    """No task has this id (HTTP 404)."""

    status = 404
    title = "Task not found"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task with id '{task_id}'.")
        self.task_id = task_id


class TaskConflictError(TaskError):
    """The task is in the wrong state for the request, or the id is taken (HTTP 409)."""

    status = 409
    title = "Conflict with the task's state"


class TaskValidationError(TaskError):
    """A field of a request is invalid (HTTP 400); ``field`` names it."""

    status = 400
    title = "Invalid request"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field


class TaskUnprocessableError(TaskValidationError):
    """A well-formed request the service cannot carry out as asked (HTTP 422); ``field`` names the field:
    a parent that does not exist, a directory that does not exist, an argument name the engine provides
    itself, a field that needs process isolation. The OpenAPI document refuses what is malformed (400); this is
    what no schema can know."""

    status = 422
    title = "Unprocessable request"


class CompileError(TaskError):
    """The code does not compile (or, for PowerShell, parse); nothing was registered (HTTP 422).

    ``diagnostics`` is a list of ``{Id, Severity, Message, Line, Column}`` dicts, lines and columns
    1-based in the user's own code (null when a message is not tied to a place in it).
    """

    status = 422
    title = "Compilation failed"

    def __init__(self, language: str, diagnostics: list[dict[str, Any]]) -> None:
        errors = [d for d in diagnostics if d.get("Severity") == "Error"] or diagnostics
        first = errors[0] if errors else {"Id": "?", "Message": "unknown error", "Line": None, "Column": None}
        where = f" at line {first['Line']}, column {first['Column']}" if first.get("Line") else ""
        super().__init__(
            f"{language} code does not compile: {first['Id']}{where}: {first['Message']}"
            + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else "")
        )
        self.language = language
        self.diagnostics = diagnostics
