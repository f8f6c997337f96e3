"""Language engines behind one contract (:mod:`krtasks.engines.base`): PowerShell and Roslyn (C#, VB.NET),
run in the daemon's threads (:mod:`krtasks.engines.threaded`)."""
