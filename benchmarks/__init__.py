"""Benchmarks: finews against bare Scrapy on static replicas served by nginx (``python -m benchmarks``),
where a crawl's time goes (``python -m benchmarks.profile``), and the start-up of the commands that must
not load Scrapy (``python -m benchmarks.startup``). See BENCHMARKS.md."""
