"""The local cloud's fixtures (the Pulumi engine, openstacksdk connections)."""

from tests.cloud_fixtures import admin_conn, conn, engine  # noqa: F401
