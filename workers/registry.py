"""Tasks are registered under today's name and under the previous release's names of them
(search/core/dispatch.py), so a message sent under either runs the same function."""

from __future__ import annotations

from collections.abc import Callable

from celery import shared_task

from search.core import dispatch


def worker_task(name: str, **options) -> Callable:
    """`shared_task(name=name, **options)`, plus one registration per legacy name of `name`."""

    def register(function: Callable):
        for legacy in dispatch.legacy_names_of(name):
            shared_task(name=legacy, **options)(function)
        return shared_task(name=name, **options)(function)

    return register
