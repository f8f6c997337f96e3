"""What tests read of a service's engines, the same in both isolation modes."""

from __future__ import annotations

from krtasks.core.service import TaskService
from krtasks.engines.process.engine import ProcessEngine
from krtasks.engines.roslyn import RoslynEngine
from krtasks.engines.threaded import ThreadedEngine
from krtasks.models import Language


def compile_cache(service: TaskService) -> tuple[int, int]:
    """``(loaded, held)`` of the daemon's C# compile cache: loaded scripts (thread isolation) or compiled images
    (process isolation), and those held by at least one task."""
    engine = service.engines[Language.CSHARP]
    if isinstance(engine, ThreadedEngine):
        assert isinstance(engine.sync, RoslynEngine)
        return engine.sync.loaded_scripts, engine.sync.held_scripts
    assert isinstance(engine, ProcessEngine)
    return engine.shared.preparers.images, engine.shared.preparers.held_images
