from django.urls import path

from backoffice.api import export_views, kiosk_views

app_name = "api"
urlpatterns = [
    path("enrol", kiosk_views.enrol, name="enrol"),
    path("cases/<str:case_code>", kiosk_views.case_package, name="case_package"),
    path("cases/<str:case_code>/files/<str:file_id>", kiosk_views.case_file, name="case_file"),
    path("events", kiosk_views.events, name="events"),
    path("openapi.json", export_views.openapi_json, name="openapi"),
    path("export/cases", export_views.case_list, name="export_list"),
    path("export/cases/<str:case_code>", export_views.case_detail, name="export_case"),
    path("export/cases/<str:case_code>/package.zip", export_views.case_package, name="export_zip"),
]
