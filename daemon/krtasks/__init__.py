"""KrTasks: run ad-hoc PowerShell, C# and VB.NET code as background tasks behind an HTTPS API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("krtasks")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
