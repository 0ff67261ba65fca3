from django.urls import path

from backoffice.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/<str:case_code>/", views.case_page, name="case"),
    path("cases/<str:case_code>/scans/<str:file_id>/<int:page>.png", views.scan_image, name="scan"),
    path("cases/<str:case_code>/reveal", views.reveal, name="reveal"),
    path("cases/<str:case_code>/step", views.step, name="step"),
]
