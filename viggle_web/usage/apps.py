from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "viggle_web.usage"
    label = "usage"

    def ready(self) -> None:
        from viggle_web.accounts.selectors import member_annotation_register
        from viggle_web.usage.selectors import with_month_usage

        # The member list shows each member's spend this month against their cap.
        member_annotation_register(with_month_usage)
