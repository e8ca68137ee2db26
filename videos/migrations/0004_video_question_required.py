# The data migration before this one gave every row its question; a migration
# of its own, so PostgreSQL has no pending trigger events from it when the table is altered.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("videos", "0003_video_question")]

    operations = [
        migrations.AlterField(
            model_name="video",
            name="question",
            field=models.ForeignKey(
                help_text="The question this video answers.",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="videos",
                to="interviews.question",
            ),
        ),
    ]
