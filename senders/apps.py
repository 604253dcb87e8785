from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class SendersConfig(AppConfig):
    name = "senders"
    verbose_name = "Mail senders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from senders.accounts import start_session_clock
        from senders.fields import check_encryption_key
        from senders.roles import ensure_roles

        checks.register(check_encryption_key, checks.Tags.database)

        # After auth's own post_migrate handler has created the permissions.
        post_migrate.connect(ensure_roles, sender=self, dispatch_uid="senders.ensure_roles")
        user_logged_in.connect(start_session_clock, dispatch_uid="senders.start_session_clock")
