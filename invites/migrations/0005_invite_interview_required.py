# The data migration before this one gave every row its interview; a migration
# of its own, so PostgreSQL has no pending trigger events from it when the table is altered.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("invites", "0004_interviews_and_answers")]

    operations = [
        migrations.AlterField(
            model_name="invite",
            name="interview",
            field=models.ForeignKey(
                help_text="The questions the candidate answers.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="invites",
                to="interviews.interview",
            ),
        ),
    ]
