"""The e2e tests' fixtures (the Pulumi engine, openstacksdk connections) for tests/cloud."""

from tests.e2e.test_local_cloud_e2e import admin_conn, conn, engine  # noqa: F401
