from django.urls import path

from backoffice.ratings import views as rating_views
from backoffice.track import views

app_name = "track"
urlpatterns = [
    path("<str:case_code>", views.track, name="track"),
    path("<str:case_code>/rate", rating_views.rate, name="rate"),
]
