"""URL map: the clerk's pages at /, kiosks for administrators, the API under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from backoffice.ratings import views as ratings_views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("kiosks/", include("backoffice.kiosks.urls")),
    path("api/v1/fleet/", include("backoffice.fleet.api_urls")),
    path("fleet/", include("backoffice.fleet.urls")),
    path("api/v1/ratings", ratings_views.kiosk_ratings, name="kiosk_ratings"),
    path("api/v1/", include("backoffice.api.urls")),
    path("ratings/", include("backoffice.ratings.urls")),
    path("track/", include("backoffice.track.urls")),
    path("results/", include("backoffice.track.clerk_urls")),
    path("", include("backoffice.cases.urls")),
]
