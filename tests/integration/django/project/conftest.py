import pytest
from django.core.management import call_command

import pgflow.contrib.django as pgflow_django


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pgflow's schema in the test database, and the apps' flows compiled (as in production)."""
    with django_db_blocker.unblock():
        call_command("pgflow_install")
    yield
    pgflow_django.close()  # its connections to the test database, before pytest-django drops it
