from django.apps import AppConfig


class AlloraConfig(AppConfig):
    name = "allora"
    verbose_name = "Allora"
