"""Scrapy settings for finews archive (``scrapy crawl site`` and ``finews crawl`` both use these)."""

BOT_NAME = "finews"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# The site, the share host that serves each article's text, and where the archive goes.
FINEWS_SITE_URL = "http://finews.withounder.com/"
FINEWS_SHARE_HOST = "finews.zning.xyz"
FINEWS_FOLLOW_SHARE = True
FINEWS_OUTPUT = "output"

USER_AGENT = "finews-archive/0.1 (news archiver; +https://finews.withounder.com/)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    "pipelines.store.SqliteStorePipeline": 400,
    "pipelines.frontmatter.FrontMatterWriter": 500,
}

LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.FinewsLogFormatter"
