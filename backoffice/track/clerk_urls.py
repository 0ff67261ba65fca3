from django.urls import path

from backoffice.track import clerk_views

app_name = "results"
urlpatterns = [
    path("tasks/", clerk_views.tasks, name="tasks"),
    path("<str:case_code>/", clerk_views.result_page, name="case"),
    path("<str:case_code>/return", clerk_views.result_post, name="post"),
]
