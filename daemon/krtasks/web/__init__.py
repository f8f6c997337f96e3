"""The daemon's HTTP layer (aiohttp): REST API v1, Server-Sent Events, tutorial routes, problems, auth."""
