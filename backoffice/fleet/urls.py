from django.urls import path

from backoffice.fleet import views

app_name = "fleet"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("kiosks/<str:kiosk_id>/", views.kiosk_page, name="kiosk"),
    path("alerts/<int:alert_id>/acknowledge", views.acknowledge, name="acknowledge"),
    path("guide/", views.guide, name="guide"),
    path("guide/<int:version>/publish", views.publish, name="publish"),
    path("me/pin", views.my_pin, name="my_pin"),
]
