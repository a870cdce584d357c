import pytest
from PIL import Image

from copydetect.query_views import DEFAULT_VIEWS, SINGLE_VIEWS, VIEW_NAMES, query_views_make, view_boxes
from tests.images import scene


def test_single_views_cover_the_centre_and_the_corners():
    image = scene(1)
    views = query_views_make(image, SINGLE_VIEWS)
    assert len(views) == len(SINGLE_VIEWS) and views[0] is image
    assert views[1].size == (round(0.85 * 480) - round(0.15 * 480), round(0.85 * 360) - round(0.15 * 360))
    assert all(view.size == (288, 216) for view in views[2:])


def test_a_grid_view_is_nine_crops_that_tile_the_image_edge_to_edge():
    image = scene(2)
    crops = query_views_make(image, ["grid_50"])
    assert len(crops) == 9 and all(crop.size == (240, 180) for crop in crops)
    boxes = view_boxes("grid_50")
    assert boxes[0][:2] == (0.0, 0.0) and boxes[-1][2:] == (1.0, 1.0)
    # The middle crop of the grid is the image's centre.
    assert query_views_make(image, ["grid_50"])[4].tobytes() == image.crop((120, 90, 360, 270)).tobytes()


def test_every_view_together_is_the_query_then_twenty_three_crops():
    image = scene(3)
    views = query_views_make(image, VIEW_NAMES)
    assert views[0] is image and len(views) == 1 + 5 + 9 + 9


def test_crops_of_a_tiny_image_keep_at_least_one_pixel():
    views = query_views_make(Image.new("RGB", (2, 1)), VIEW_NAMES)
    assert all(view.width >= 1 and view.height >= 1 for view in views)


def test_unknown_view_names_are_refused():
    with pytest.raises(ValueError, match="Unknown query views"):
        query_views_make(scene(1), ["full", "sideways"])


def test_the_site_searches_with_the_default_views(settings):
    assert tuple(settings.ISC.query_views) == DEFAULT_VIEWS
