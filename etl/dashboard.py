"""Health dashboard (FastAPI): the same component list as `etl status`, as JSON and as a page.

Probes run per request (they are cheap: one query, one metadata call, two REST calls), so the
page never shows a cached "healthy". `/api/status` returns 503 while anything is unhealthy, so a
load balancer or `curl -f` can use it directly.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse

from etl.settings import CAPTURED_TABLES, Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="cdc-etl dashboard", version="0.1.0")

    def current_status() -> dict[str, Any]:
        from infra.local.runner import status

        return status(settings)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness of the dashboard itself (its probe; /api/status would probe itself)."""
        return {"status": "ok"}

    @app.get("/api/status")
    def api_status() -> JSONResponse:
        result = current_status()
        return JSONResponse(result, status_code=200 if result["healthy"] else 503)

    @app.get("/api/topics")
    def api_topics() -> dict[str, int | None]:
        from etl.topics import message_counts

        names = [settings.cdc_topic(t) for t in CAPTURED_TABLES] + settings.pipeline_topics()
        return message_counts(settings, list(dict.fromkeys(names)))

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page(current_status())

    return app


def render_page(result: dict[str, Any]) -> str:
    rows = "".join(
        "<tr><td>{name}</td><td class='{cls}'>{state}</td><td>{pid}</td><td>{port}</td>"
        "<td>{restarts}</td><td>{detail}</td></tr>".format(
            name=html.escape(c["name"]),
            cls="ok" if c["state"] == "healthy" else "bad",
            state=html.escape(str(c["state"])),
            pid=c.get("pid") or "-",
            port=c.get("port") or "-",
            restarts=c.get("restarts", "-"),
            detail=html.escape(str(c.get("detail", ""))),
        )
        for c in result["components"]
    )
    overall = "healthy" if result["healthy"] else "unhealthy"
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>cdc-etl: {overall}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 12px;text-align:left}}
.ok{{color:#080}}.bad{{color:#b00;font-weight:bold}}</style></head><body>
<h1>cdc-etl pipeline: <span class="{"ok" if result["healthy"] else "bad"}">{overall}</span></h1>
<table><tr><th>component</th><th>state</th><th>pid</th><th>port</th><th>restarts</th>
<th>detail</th></tr>{rows}</table>
<p><a href="/api/status">/api/status</a> · <a href="/api/topics">/api/topics</a></p>
</body></html>"""


def serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port("dashboard"),
        log_level="warning",
    )
