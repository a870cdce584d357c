from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key, 0)


@register.simple_tag
def image_url(image, variant: str = "preview") -> str:
    """The membership-checked address of a reference or query image: 'thumb', 'preview' or 'original'."""
    from django.urls import reverse

    from search.models import QueryImage

    kind = "query" if isinstance(image, QueryImage) else "reference"
    return reverse("search:image_file", args=[kind, image.id, variant])
