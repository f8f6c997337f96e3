"""The engines of a service, one per language: the one place that picks an engine for a task."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ..engines.base import CodeRequest, Engine, Execution, LaunchRequest, Prepared
from ..models import Language, TaskData
from .entry import TaskEntry

log = logging.getLogger("krtasks.core")


class EngineSet:
    """Prepares, launches and releases tasks with the engine of their language.

    ``on_compiled`` is called with the language after each preparation that compiled (for metrics).
    """

    def __init__(self, on_compiled: Callable[[Language], None]) -> None:
        self._engines: dict[Language, Engine] = {}
        self._on_compiled = on_compiled
        self._releases: set[asyncio.Task[None]] = set()

    def __getitem__(self, language: Language) -> Engine:
        """The engine of ``language``.

        Raises:
            KeyError: no engine runs that language.
        """
        return self._engines[language]

    def install(self, engines: Mapping[Language, Engine]) -> None:
        """Take the engines to use from now on (when the service opens)."""
        self._engines = dict(engines)

    @property
    def installed(self) -> bool:
        """True once engines were installed."""
        return bool(self._engines)

    async def prepare(
        self,
        language: Language,
        code: str,
        arguments: dict[str, Any],
        extra_imports: list[str],
        extra_refs: list[str],
        arguments_clixml: str | None = None,
    ) -> Prepared:
        """Parse or compile code of ``language`` with its arguments (JSON values by name; or CliXml, which task
        code then gets, with ``arguments`` as their JSON view).

        Raises:
            krtasks.errors.CompileError: the code does not compile (or parse).
            RuntimeError: the service was not opened.
        """
        engine = self._engines.get(language)
        if engine is None:
            raise RuntimeError(f"no {language} engine: TaskService.open() was not called")
        request = CodeRequest(
            code,
            arguments,
            json.dumps(arguments, allow_nan=False),
            tuple(extra_imports),
            tuple(extra_refs),
            arguments_clixml,
        )
        prepared = await engine.prepare(request)
        if prepared.compiled:
            self._on_compiled(language)
        return prepared

    async def prepare_again(self, data: TaskData) -> Prepared:
        """:meth:`prepare` for a restored task."""
        return await self.prepare(
            data.language, data.code, data.arguments, data.extra_imports, data.extra_refs, data.arguments_clixml
        )

    async def launch(self, task: TaskEntry) -> Execution:
        """Start a run of the task's prepared code."""
        assert task.prepared is not None, "a task runs only once, from its prepared code"
        d = task.data
        request = LaunchRequest(
            task.id, d.max_memory_mb, d.working_directory, d.environment, d.clixml_depth, d.reuse_runspace
        )
        return await self._engines[d.language].launch(task.prepared, request)

    def release(self, task: TaskEntry) -> asyncio.Task[None] | None:
        """Drop the task's hold on its prepared code (it will not run again) in the background; return that
        work (None when the task held nothing). A failure is logged."""
        prepared, task.prepared = task.prepared, None
        if prepared is None:
            return None
        release = asyncio.get_running_loop().create_task(self._release(task.data.language, prepared))
        self._releases.add(release)
        release.add_done_callback(self._releases.discard)
        return release

    async def _release(self, language: Language, prepared: Prepared) -> None:
        try:
            await self._engines[language].release(prepared)
        except Exception as exc:  # releasing is housekeeping; the task is over either way
            log.warning("releasing a prepared %s script failed: %s", language, exc)

    def warm_up(self) -> None:
        """Let every engine warm up in the background."""
        for engine in self._engines.values():
            engine.warm_up()

    async def close(self) -> None:
        """Wait for pending releases, then close every engine."""
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        for engine in self._engines.values():
            await engine.close()
