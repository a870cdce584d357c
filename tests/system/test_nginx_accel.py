"""deploy/nginx.conf in front of the live site: Django authorises each image and nginx sends the bytes
from its internal location; nobody reaches that location directly. Needs the nginx binary (Debian
`apt-get install nginx-light`); skipped without it."""

import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.urls import reverse

from copydetect.milvus_lite import free_port, wait_for_port
from search.collection import services
from search.core.uploads import Payload
from search.teams.models import Role
from tests.factories import UserFactory, collection_for
from tests.images import encode, scene

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed"),
]
CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf"


@pytest.fixture
def nginx_in_front(live_server, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEBUG = False
    settings.ISC = settings.ISC.replace(media_accel_prefix="/protected/")
    port = free_port()
    site = CONFIG.read_text()
    site = site.replace("server web:8000;", f"server {live_server.url.removeprefix('http://')};")
    site = site.replace("alias /data/media/;", f"alias {settings.MEDIA_ROOT}/;")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    assert str(settings.MEDIA_ROOT) in site and str(port) in site, "the shipped config changed shape"
    (tmp_path / "logs").mkdir()
    main = tmp_path / "nginx.conf"
    main.write_text(
        "user root; worker_processes 1; daemon off; error_log logs/error.log; pid nginx.pid;\n"
        "events { worker_connections 64; }\n"
        "http { include /etc/nginx/mime.types; access_log logs/access.log;\n"
        "client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp; uwsgi_temp_path tmp; scgi_temp_path tmp;\n"
        + site
        + "\n}\n"
    )
    (tmp_path / "tmp").mkdir()
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(main)], stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _get(url: str, cookie: str = ""):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_nginx_sends_authorised_images_and_nothing_else(client, nginx_in_front, settings, live_server):
    owner = UserFactory()
    collection = collection_for(owner, Role.VIEWER)
    data = encode(scene(11), "TIFF")
    reference = services.reference_images_add(
        actor=collection.created_by, collection=collection, items=[Payload("r.tif", data)]
    ).created[0]
    client.force_login(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    original = nginx_in_front + reverse("search:image_file", args=["reference", reference.id, "original"])
    preview = nginx_in_front + reverse("search:image_file", args=["reference", reference.id, "preview"])

    direct = _get(original.replace(nginx_in_front, live_server.url), cookie)
    assert direct[0] == 200 and direct[2] == b"", "Django itself sends no bytes, only the header"
    assert direct[1]["X-Accel-Redirect"] == f"/protected/{reference.file.name}"
    status, headers, body = _get(original, cookie)
    assert status == 200 and body == data and headers["Content-Type"] == "image/tiff"
    assert "X-Accel-Redirect" not in headers and "private" in headers["Cache-Control"]
    status, headers, body = _get(preview, cookie)
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and body[:3] == b"\xff\xd8\xff"

    assert _get(original)[0] == 302, "a visitor is sent to the login"
    stranger = UserFactory()
    collection_for(stranger, Role.ADMIN)
    client.force_login(stranger)
    stranger_cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    assert _get(original, stranger_cookie)[0] == 404
    assert _get(f"{nginx_in_front}/protected/{reference.file.name}", cookie)[0] == 404, "internal only"
    assert _get(f"{nginx_in_front}/media/{reference.file.name}", cookie)[0] == 404
