from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, 0)


@register.simple_tag
def image_url(image, variant: str = "preview") -> str:
    """The membership-checked address of a reference or query image: 'thumb', 'preview' or 'original'."""
    from django.urls import reverse

    from search.queries.models import QueryImage

    kind = "query" if isinstance(image, QueryImage) else "reference"
    return reverse("search:image_file", args=[kind, image.id, variant])


@register.filter
def claimed_by_other(item, user) -> bool:
    """Whether another moderator holds the review item's claim right now."""
    return item.claimed_by_other(user)


@register.filter
def sum_of(values) -> int:
    return sum(values)


@register.filter
def duration_short(delta) -> str:
    """A timedelta as '3 d 4 h', '5 h 10 min' or '42 s'."""
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


@register.filter
def score(value) -> str:
    from search.core.score_text import score_text

    return score_text(value)


@register.filter
def audit_target(event) -> str:
    from search.core.audit_text import audit_target_text

    return audit_target_text(event=event)


@register.filter
def audit_lines(value) -> list[tuple[str, str]]:
    from search.core.audit_text import audit_value_lines

    return audit_value_lines(value)
