"""The app's fixtures and constants live with the template (app/tests/conftest.py), so that a team's app repository
has them; the tests in this folder (about the template itself) use them from there."""

from app.tests.conftest import aws, bundle, moto_server, service, standins, start_service  # noqa: F401 - fixtures
