import pytest
from fastapi.testclient import TestClient

from etl.dashboard import create_app

pytestmark = pytest.mark.integration


def test_dashboard_reports_the_stack(stack):
    client = TestClient(create_app(stack))
    status = client.get("/api/status")
    assert status.status_code == 200
    assert status.json()["healthy"] is True
    page = client.get("/")
    assert page.status_code == 200 and "connector" in page.text and "healthy" in page.text
    topics = client.get("/api/topics").json()
    assert stack.cdc_topic("orders") in topics and stack.dlq_topic in topics
