from django.urls import path

from backoffice.fleet import api_views

app_name = "fleet_api"
urlpatterns = [
    path("heartbeat", api_views.heartbeat, name="heartbeat"),
    path("staff", api_views.staff, name="staff"),
    path("guide", api_views.guide, name="guide"),
    path("results", api_views.results, name="results"),
    path("results/<str:case_code>/placed", api_views.placed, name="placed"),
]
