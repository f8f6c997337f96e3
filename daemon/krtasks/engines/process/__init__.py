"""Process isolation: task code runs in worker processes (Python + pythonnet, one task at a time) that the
daemon starts, watches, kills and replaces; the daemon itself only prepares (parses, compiles) code."""
