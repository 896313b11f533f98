from django.apps import AppConfig


class AlloraConfig(AppConfig):
    name = "allora"
    verbose_name = "Allora"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import lookups  # noqa: F401 -- registers ``field__any``
        from .second_factor import on_sign_in

        user_logged_in.connect(on_sign_in, dispatch_uid="allora.second_factor.on_sign_in")
