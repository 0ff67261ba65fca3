from django.urls import path

from backoffice.ratings import views

app_name = "ratings"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("rectifications/", views.rectifications, name="rectifications"),
    path("rectifications/<int:pk>", views.rectification_post, name="rectification"),
]
