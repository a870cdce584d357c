"""The address printed for people to open, from the address the site listens on."""

import pytest

from isc_site.web_address import login_url, site_url


@pytest.mark.parametrize(
    ("address", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000/"),
        ("0.0.0.0:8630", "http://127.0.0.1:8630/"),
        ("8631", "http://127.0.0.1:8631/"),
        ("[::1]:8632", "http://[::1]:8632/"),
        ("[::]:8633", "http://127.0.0.1:8633/"),
        ("isc.example.org:80", "http://isc.example.org:80/"),
        ("", "http://127.0.0.1:8000/"),
    ],
)
def test_site_url(address, url):
    assert site_url(address) == url
    assert login_url(address) == url + "accounts/login/"
