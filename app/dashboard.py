"""Health dashboard (FastAPI): the same component list as `etl status`, as JSON and as a page.

Probes run per request (they are cheap: one query, one metadata call, two REST calls), so the
page never shows a cached "healthy". `/api/status` returns 503 while anything is unhealthy, so a
load balancer or `curl -f` can use it directly.

The latest Data Docs (`etl quality`) are served under `/quality/`, read from disk per request,
so a new report shows up without a restart; the page shows the newest quality run and flags a
failed one.
"""

from __future__ import annotations

import html

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from etl.quality_results import QualityRun, failures_line
from etl.settings import Settings, load_settings
from etl.topics import message_counts
from infra.local.status import StackStatus, newest_quality_run, status


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="cdc-etl dashboard", version="0.1.0")

    def current_status() -> StackStatus:
        return status(settings)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """Liveness of the dashboard itself (its probe; /api/status would probe itself)."""
        return {"status": "ok"}

    @app.get("/api/status")
    def api_status() -> JSONResponse:
        result = current_status()
        return JSONResponse(
            result.model_dump(mode="json"), status_code=200 if result.healthy else 503
        )

    @app.get("/api/topics")
    def api_topics() -> dict[str, int | None]:
        return message_counts(settings, settings.pipeline_topics())

    @app.get("/api/quality")
    def api_quality() -> JSONResponse:
        run = newest_quality_run(settings)
        return JSONResponse(run.model_dump(mode="json") if run else None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return render_page(current_status())

    app.mount(
        "/quality",
        StaticFiles(directory=settings.data_docs_dir, html=True, check_dir=False),
        name="quality",
    )
    return app


def render_quality(run: QualityRun | None) -> str:
    if run is None:
        return "<p>Data quality: no run yet (<code>etl quality</code>).</p>"
    verdict = (
        "<span class='ok'>passed</span>"
        if run.passed
        else f"<span class='bad'>FAILED</span>: {html.escape(failures_line(run))}"
    )
    rows = "".join(
        f"<tr><td>{html.escape(s.suite)}</td><td>{s.expectations}</td><td>{s.failed}</td>"
        f"<td class='{'ok' if s.success else 'bad'}'>{'yes' if s.success else 'NO'}</td></tr>"
        for s in run.suites
    )
    return (
        f"<h2>Data quality</h2><p>Last run {html.escape(run.run_id)} ({run.trigger}, "
        f"{run.started_at:%Y-%m-%d %H:%M:%S %Z}): {verdict}</p>"
        "<table><tr><th>suite</th><th>expectations</th><th>failed</th><th>success</th></tr>"
        f"{rows}</table><p><a href='/quality/index.html'>Data Docs report</a></p>"
    )


def render_page(result: StackStatus) -> str:
    rows = "".join(
        "<tr><td>{name}</td><td class='{cls}'>{state}</td><td>{pid}</td><td>{port}</td>"
        "<td>{restarts}</td><td>{detail}</td></tr>".format(
            name=html.escape(c.name),
            cls="ok" if c.state == "healthy" else "bad",
            state=html.escape(c.state),
            pid=c.pid or "-",
            port=c.port or "-",
            restarts="-" if c.restarts is None else c.restarts,
            detail=html.escape(c.detail),
        )
        for c in result.components
    )
    overall = "healthy" if result.healthy else "unhealthy"
    slot = result.replication_slot
    slot_warning = (
        f"<p class='bad'>warning: {html.escape(slot.warning)}</p>" if slot and slot.warning else ""
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="refresh" content="5"><title>cdc-etl: {overall}</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:4px 12px;text-align:left}}
.ok{{color:#080}}.bad{{color:#b00;font-weight:bold}}</style></head><body>
<h1>cdc-etl pipeline: <span class="{"ok" if result.healthy else "bad"}">{overall}</span></h1>
<table><tr><th>component</th><th>state</th><th>pid</th><th>port</th><th>restarts</th>
<th>detail</th></tr>{rows}</table>
{slot_warning}
{render_quality(result.quality)}
<p><a href="/api/status">/api/status</a> · <a href="/api/topics">/api/topics</a>
 · <a href="/api/quality">/api/quality</a></p>
</body></html>"""


def serve(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=settings.bind_host,
        port=settings.port("dashboard"),
        log_level="warning",
    )
