from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from isc_site.health import health
from isc_site.liveness import healthz

# No media route: images are served by search.images.views.image_file, which checks team membership.
urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("api/", include("search.api.urls")),
    path("hma/", include("search.hma.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("search.urls")),
]
