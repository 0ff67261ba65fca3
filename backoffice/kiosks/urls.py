from django.urls import path

from backoffice.kiosks import views

app_name = "kiosks"
urlpatterns = [
    path("", views.kiosk_list, name="list"),
    path("<str:kiosk_id>/code", views.new_code, name="new_code"),
    path("<str:kiosk_id>/revoke", views.revoke, name="revoke"),
]
