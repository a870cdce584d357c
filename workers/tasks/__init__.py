"""Celery tasks, one module per domain; a task's name is its module path and function name
(`workers.tasks.<module>.<function>`), listed for the site in search/core/dispatch.py."""
