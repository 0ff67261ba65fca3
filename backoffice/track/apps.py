from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackConfig(AppConfig):
    name = "backoffice.track"
    label = "track"
    verbose_name = _("Resident progress page")
