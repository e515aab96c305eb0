"""Load on the source database with Locust, and the end-to-end latency it causes.

`locustfile.py` is what Locust loads; `users.py` holds the shoppers and the end-to-end probe,
`shapes.py` the load shapes (chosen by `LOAD_SHAPE`), `report.py` how an operation becomes a
Locust request. The top layer of the import contract: it drives the app's own shop writes
(`app.shop`) and latency probe (`app.bench`), and nothing imports it.

Locust monkey-patches the standard library with gevent when it is imported, and psycopg picks
its wait function when *it* is imported: psycopg must come second, or every user blocks the
others. So nothing here may be imported by a process that has not imported locust first; the
test suite runs Locust as a subprocess (gevent in the pytest process hangs the Pulumi mocks).
"""
