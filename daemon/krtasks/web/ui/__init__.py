"""The dashboard under ``/ui``: page shells (Jinja templates holding no task data), static files, login and
sessions. The pages are plain JavaScript modules that use the public REST API and its event streams only.
"""
