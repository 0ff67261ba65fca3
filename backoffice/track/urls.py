from django.urls import path

from backoffice.track import views

app_name = "track"
urlpatterns = [
    path("<str:case_code>", views.track, name="track"),
]
