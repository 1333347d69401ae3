from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "viggle_web.gateway"
    label = "gateway"
    verbose_name = "Viggle-compatible API"

    def ready(self) -> None:
        from viggle_web.accounts.signals import member_deactivated
        from viggle_web.gateway.services import token_revoke_all_on_deactivation

        member_deactivated.connect(
            token_revoke_all_on_deactivation, dispatch_uid="gateway-revoke-tokens"
        )
