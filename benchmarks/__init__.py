"""Benchmarks: finews against bare Scrapy on static replicas served by nginx (``python -m benchmarks``),
and where a crawl's time goes (``python -m benchmarks.profile``). See BENCHMARKS.md."""
