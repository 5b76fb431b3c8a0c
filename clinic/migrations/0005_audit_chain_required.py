"""Every audit event now has its place in the chain: seq is required, unique and positive, so
the database itself refuses a second event at the same place (a fork)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("clinic", "0004_audit_chain_backfill")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(
                editable=False, unique=True, verbose_name="sequence number"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("seq__gte", 1)), name="clinic_auditevent_seq_positive"
            ),
        ),
    ]
