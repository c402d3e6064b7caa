from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class MydataConfig(AppConfig):
    name = "config.mydata"
    label = "mydata"
    verbose_name = "My data"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Each app says what it holds about a person in its own personal_data.py.
        autodiscover_modules("personal_data")
