import pytest
from fastapi.testclient import TestClient

from app.dashboard import create_app

pytestmark = pytest.mark.integration


def test_dashboard_reports_the_stack(stack):
    """With the core stack up and the apps stopped, the API says so with a 503."""
    client = TestClient(create_app(stack))
    status = client.get("/api/status")
    assert status.status_code == 503
    states = {c["name"]: c["state"] for c in status.json()["components"]}
    assert states["connector"] == "healthy" and states["loader"] == "stopped"
    page = client.get("/")
    assert page.status_code == 200 and "connector" in page.text and "unhealthy" in page.text
    assert client.get("/healthz").json() == {"status": "ok"}
    topics = client.get("/api/topics").json()
    assert stack.cdc_topic("orders") in topics and stack.dlq_topic in topics
