"""The distributed crawl: many workers share one frontier in Redis, one process writes the archive.

- ``finews crawl --redis URL`` holds the output's lock, starts a run, publishes it in Redis (the site, the
  run id, the names and infoCodes already archived), pushes the start requests, and runs two crawlers in
  one process: a worker like any other, and the **ingest**, the one writer of ``archive.db`` and
  ``_posts/``. It exits once the shared frontier is empty, no worker holds a request, and every item
  has been written.
- ``finews worker --redis URL`` (on any machine) joins the published run: it takes requests from the
  frontier, fetches and parses them, and hands what it read (post pages, fetch failures, stored pages,
  posts it skipped as known) to Redis for the ingest.

The frontier is scrapy-redis's scheduler and duplicate filter (crawler/distributed/frontier.py), with one
addition: a request a worker takes is held as a **lease** in Redis until its outcome is handed off, in the
same Redis transaction as that outcome (crawler/distributed/shared.py). A worker killed with SIGKILL stops
renewing its heartbeat; its leases then go back to the frontier, and another worker fetches them again.
A worker reads each post into its record (crawler/record.py), as a single-process crawl does; the ingest
runs every record through the same pipelines (validate, dedupe by infoCode, front matter, store), so the
archive means the same whichever way it was made; it removes records from Redis only after the archive has
committed them, and the store is idempotent, so a record written twice (a killed ingest, a lease fetched
again) is one row.
"""
