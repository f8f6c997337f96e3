"""Loading .NET 10, the PowerShell SDK and Roslyn into this Python process (pythonnet, CoreCLR).

The bundle is the publish folder of ``daemon/bundle`` (``build.ps1 -Task Build``): a framework-dependent
``KrTasks.Runtime.runtimeconfig.json``, the SDK and Roslyn assemblies, our helper ``KrTasks.Runtime.dll``
and PowerShell's built-in ``Modules`` folder. The CLR can be loaded only once per process, so
:func:`load_runtime` is idempotent and thread-safe.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUNDLE_ENV = "KRTASKS_BUNDLE"
"""Environment variable naming the bundle folder (overrides the source-tree default)."""

RUNTIME_CONFIG = "KrTasks.Runtime.runtimeconfig.json"
_REQUIRED = (
    RUNTIME_CONFIG,
    "KrTasks.Runtime.dll",
    "System.Management.Automation.dll",
    "Microsoft.CodeAnalysis.CSharp.Scripting.dll",
    "Microsoft.CodeAnalysis.VisualBasic.dll",
    "libpsl-native.so",
    "Modules",
)
_FIX = "Run `dotnet pwsh ./build.ps1 -Task Build` in the repository (or set KRTASKS_BUNDLE to a published bundle)."

_lock = threading.Lock()
_loaded: RuntimeInfo | None = None


class RuntimeNotAvailableError(RuntimeError):
    """The .NET runtime or the published bundle is missing; the message says what and how to fix it."""


class NetTypes:
    """The .NET types KrTasks uses, resolved once on the loading thread.

    pythonnet resolves ``from System... import X`` through an import hook that takes Python's import lock
    and calls into the CLR. Doing that on hot paths from several threads at once (a task's launch, the
    runspace refill thread, the Roslyn warm-up) hung a daemon at start under load, so engines take the
    types from here instead of importing them.
    """

    def __init__(self, compiler: bool) -> None:
        from KrTasks.Runtime import (
            CliXmlCodec,
            ConsoleRouter,
            ErrorInfo,
            OutputConverter,
            PowerShellRun,
            ProcessContext,
            RunspaceBaseline,
            ScriptImage,
            StreamSink,
            TaskArguments,
            TaskGlobals,
            TaskProgress,
        )
        from System import IAsyncResult
        from System.Management.Automation.Runspaces import InitialSessionState, RunspaceFactory
        from System.Threading import CancellationTokenSource

        self.CliXmlCodec: Any = CliXmlCodec
        self.ConsoleRouter: Any = ConsoleRouter
        self.ErrorInfo: Any = ErrorInfo
        self.OutputConverter: Any = OutputConverter
        self.PowerShellRun: Any = PowerShellRun
        self.ScriptImage: Any = ScriptImage
        self.ProcessContext: Any = ProcessContext
        self.RunspaceBaseline: Any = RunspaceBaseline
        self.ScriptCompiler: Any = None
        """Roslyn behind KrTasks' compiler (None in a worker process, which runs images but never compiles)."""
        if compiler:
            from KrTasks.Runtime import ScriptCompiler

            self.ScriptCompiler = ScriptCompiler
        self.StreamSink: Any = StreamSink
        self.TaskArguments: Any = TaskArguments
        self.TaskGlobals: Any = TaskGlobals
        self.TaskProgress: Any = TaskProgress
        self.IAsyncResult: Any = IAsyncResult
        self.InitialSessionState: Any = InitialSessionState
        self.RunspaceFactory: Any = RunspaceFactory
        self.CancellationTokenSource: Any = CancellationTokenSource


@dataclass(frozen=True)
class RuntimeInfo:
    """What was loaded: the bundle folder, the versions of .NET and PowerShell (strings), and the .NET
    types the engines use (:class:`NetTypes`)."""

    bundle: Path
    dotnet_version: str
    powershell_version: str
    net: NetTypes = field(repr=False, compare=False)


def default_bundle_dir() -> Path:
    """Return the bundle folder: ``$KRTASKS_BUNDLE``, else ``daemon/bundle/publish`` beside this package."""
    env = os.environ.get(BUNDLE_ENV)
    if env:
        return Path(env).resolve()
    return (Path(__file__).resolve().parent.parent / "bundle" / "publish").resolve()


def check_bundle(bundle: Path) -> None:
    """Raise :class:`RuntimeNotAvailableError` naming the first missing piece of ``bundle``."""
    if not bundle.is_dir():
        raise RuntimeNotAvailableError(f"The .NET bundle folder {bundle} does not exist. {_FIX}")
    for name in _REQUIRED:
        if not (bundle / name).exists():
            raise RuntimeNotAvailableError(f"The .NET bundle at {bundle} lacks {name}. {_FIX}")
    if shutil.which("dotnet") is None and not os.environ.get("DOTNET_ROOT"):
        raise RuntimeNotAvailableError(
            "The .NET 10 runtime was not found: install the .NET SDK 10 (dotnet on PATH) or set DOTNET_ROOT."
        )


def load_runtime(bundle: Path | None = None, *, compiler: bool = True) -> RuntimeInfo:
    """Load CoreCLR with the bundle's runtimeconfig and make the bundle's assemblies resolvable.

    ``compiler``: also load Roslyn (the daemon; a worker process runs compiled images and needs it not,
    which saves ~100 MB and a second of start-up). Idempotent: a second call returns the first call's
    :class:`RuntimeInfo` (asking for another bundle after the first load raises, since the CLR cannot be
    reloaded).

    Raises:
        RuntimeNotAvailableError: the bundle or .NET is missing, or the CLR failed to start.
    """
    global _loaded
    with _lock:
        bundle = (bundle or default_bundle_dir()).resolve()
        if _loaded is not None:
            if _loaded.bundle != bundle:
                raise RuntimeNotAvailableError(
                    f"The CLR is already loaded from {_loaded.bundle}; it cannot be reloaded from {bundle}."
                )
            return _loaded
        check_bundle(bundle)
        # Telemetry off and PowerShell's own folders known before the SDK's first type loads.
        os.environ.setdefault("POWERSHELL_TELEMETRY_OPTOUT", "1")
        os.environ.setdefault("POWERSHELL_UPDATECHECK", "Off")
        os.environ.setdefault("DOTNET_CLI_TELEMETRY_OPTOUT", "1")
        try:
            import pythonnet

            pythonnet.load("coreclr", runtime_config=str(bundle / RUNTIME_CONFIG))
        except Exception as exc:  # clr_loader raises several unrelated types
            raise RuntimeNotAvailableError(f"Could not start .NET from {bundle}: {exc}. {_FIX}") from exc
        # pythonnet resolves assemblies by searching sys.path for <name>.dll.
        if str(bundle) not in sys.path:
            sys.path.append(str(bundle))
        import clr

        roslyn = (
            "Microsoft.CodeAnalysis",
            "Microsoft.CodeAnalysis.CSharp",
            "Microsoft.CodeAnalysis.CSharp.Scripting",
            "Microsoft.CodeAnalysis.VisualBasic",
        )
        for name in ("System.Management.Automation", *(roslyn if compiler else ()), "KrTasks.Runtime"):
            clr.AddReference(name)
        from System import Environment
        from System.Management.Automation import PSVersionInfo

        net = NetTypes(compiler)
        _stop_assembly_tracking()
        net.ConsoleRouter.Install()
        _loaded = RuntimeInfo(
            bundle=bundle,
            dotnet_version=str(Environment.Version),
            powershell_version=str(PSVersionInfo.PSVersion),
            net=net,
        )
        return _loaded


def _stop_assembly_tracking() -> None:
    """Detach pythonnet's ``AppDomain.AssemblyLoad`` handler.

    pythonnet adds every assembly loaded after start to its own lists (to index namespaces for Python
    imports). Those strong references pin the collectible load context of every compiled C#/VB script, so
    none could ever be unloaded (measured: 1 000 distinct scripts left 1 000 assemblies after a full GC).
    Everything KrTasks imports from .NET is resolved by now (:class:`NetTypes`); pythonnet's resolve
    handler, which finds the bundle's assemblies on ``sys.path``, stays.

    Raises:
        RuntimeNotAvailableError: this pythonnet keeps the handler elsewhere (a version we do not know).
    """
    from System import AppDomain
    from System.Reflection import BindingFlags

    domain = AppDomain.CurrentDomain
    manager = next(
        (
            a.GetType("Python.Runtime.AssemblyManager")
            for a in domain.GetAssemblies()
            if a.GetName().Name == "Python.Runtime"
        ),
        None,
    )
    field = None if manager is None else manager.GetField("lhandler", BindingFlags.NonPublic | BindingFlags.Static)
    handler = None if field is None else field.GetValue(None)
    if handler is None:
        raise RuntimeNotAvailableError(
            "pythonnet's assembly-load handler was not found (unknown pythonnet version); compiled scripts "
            "could never be unloaded. Use pythonnet 3.0.x-3.2.x."
        )
    # Through reflection: pythonnet's ``-=`` only removes handlers that Python code added.
    domain.GetType().GetEvent("AssemblyLoad").RemoveEventHandler(domain, handler)
