"""Full-text search of message bodies: a GIN index with a French, accent-
folding configuration on PostgreSQL, an FTS5 table kept by triggers on SQLite
(conversations/search_index.py explains both)."""

from django.db import migrations

from conversations import search_index


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0005_v2'),
    ]

    operations = [
        migrations.RunPython(search_index.install, search_index.uninstall),
    ]
