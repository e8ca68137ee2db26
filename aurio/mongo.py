"""App configs for Django's contrib apps on MongoDB (django-mongodb-backend).

The backend refuses integer auto fields (mongodb.fields.auto.E001), so the
contrib apps get ObjectId primary keys and their own migrations
(aurio/mongo_migrations/, selected by MIGRATION_MODULES). aurio's own models
already use UUID primary keys, so one set of migrations serves every database.
"""

from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig

OBJECT_ID = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID
