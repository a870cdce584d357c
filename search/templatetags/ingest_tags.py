from django import template

from search.ingest import selectors as ingest_selectors

register = template.Library()


@register.inclusion_tag("search/_ingest_jobs.html")
def ingest_jobs_panel(collection):
    """The collection's running and recent ingest jobs; the block polls itself while one of them is active."""
    panel = ingest_selectors.ingest_panel(collection=collection)
    return {
        "collection": collection,
        "jobs": panel.active + panel.finished,
        "panel": panel,
        "active": bool(panel.active),
    }


@register.filter
def duration(seconds):
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
