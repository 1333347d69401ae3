from django.apps import AppConfig


class RendersConfig(AppConfig):
    name = "viggle_web.renders"
    label = "renders"

    def ready(self) -> None:
        from viggle_web.assets.selectors import asset_uses_register
        from viggle_web.core.qworker import main_loop_register
        from viggle_web.renders.selectors import renders_using_asset

        # The gallery lists an asset's renders, and archives a used asset instead of deleting it.
        asset_uses_register(renders_using_asset)
        # The one poller runs in every worker's main process (manage.py qcluster).
        main_loop_register("poller", _poller)


def _poller(stop) -> None:
    from viggle_web.renders.poller import run_loop

    run_loop(stop=stop)
