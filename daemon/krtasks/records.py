"""Formatting shared by records and API answers: UTC timestamps and TimeSpan-style durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and a ``Z`` suffix (``2026-11-29T10:00:00.123456Z``), or None."""
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    """Inverse of :func:`iso` (accepts any ISO 8601 form ``datetime.fromisoformat`` reads); None stays None."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def timespan(delta: timedelta | None) -> str | None:
    """A duration in .NET TimeSpan constant format ``[d.]hh:mm:ss.fffffff`` (what ``[timespan]`` parses)."""
    if delta is None:
        return None
    ticks = round(delta.total_seconds() * 10_000_000)
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    days, rem = divmod(ticks, 864_000_000_000)
    hours, rem = divmod(rem, 36_000_000_000)
    minutes, rem = divmod(rem, 600_000_000)
    seconds, fraction = divmod(rem, 10_000_000)
    day_part = f"{days}." if days else ""
    return f"{sign}{day_part}{hours:02d}:{minutes:02d}:{seconds:02d}.{fraction:07d}"
