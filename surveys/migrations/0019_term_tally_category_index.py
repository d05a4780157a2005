from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0018_terms_of_comments_tallied"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="termtally",
            index=models.Index(
                fields=["survey", "category", "day"],
                include=["language", "term", "responses"],
                name="term_tally_category_idx",
            ),
        ),
    ]
