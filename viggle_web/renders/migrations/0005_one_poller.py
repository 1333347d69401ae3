"""One poller: the poll loop runs for the worker's whole life (core.qworker), so the poller slots
and the every-minute schedule that restarted the old bounded loop are gone."""

from django.db import migrations


def drop_poller_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="render-poller").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("renders", "0004_render_needs_attention"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.DeleteModel(name="PollerSlot"),
        migrations.RunPython(drop_poller_schedule, migrations.RunPython.noop),
    ]
