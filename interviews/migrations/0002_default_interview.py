"""The default interview: invites made without one (the seed's `POST /invites`,
and every invite made before interviews existed) belong to it. Its one
question is the seed's: two minutes (the deployment's default), text that
recruiters edit in the admin."""

from django.db import migrations

QUESTION = "Please introduce yourself and tell us why this role interests you."


def create(apps, schema_editor):
    Interview = apps.get_model("interviews", "Interview")
    Question = apps.get_model("interviews", "Question")
    if Interview.objects.filter(is_default=True).exists():
        return
    interview = Interview.objects.create(title="Video answer", is_default=True)
    Question.objects.create(interview=interview, position=0, text=QUESTION)


def remove(apps, schema_editor):
    # Invites stop pointing at interviews first (invites 0004 depends on this
    # migration, so it is undone before): nothing refers to the default one here.
    apps.get_model("interviews", "Interview").objects.filter(is_default=True).delete()


class Migration(migrations.Migration):
    dependencies = [("interviews", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
