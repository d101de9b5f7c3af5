"""Scrapy settings for finews archive (``scrapy crawl site`` and ``finews crawl`` both use these)."""

BOT_NAME = "finews"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# The site, the share host that serves each article's text, and where the archive goes.
FINEWS_SITE_URL = "http://finews.withounder.com/"
FINEWS_SHARE_HOST = "finews.zning.xyz"
FINEWS_FOLLOW_SHARE = True
FINEWS_OUTPUT = "output"
# Fetch every listed post again (``finews crawl --full``); by default an archived post is skipped.
FINEWS_FULL = False
# The crawl_runs row ``finews crawl`` started or resumes; 0: the store starts one (``scrapy crawl site``).
FINEWS_RUN_ID = 0
# A live progress display on stderr (``finews crawl`` on a terminal).
FINEWS_PROGRESS = False
FINEWS_PROGRESS_INTERVAL = 0.5

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
# Scrapy's remote control runs posted Python code over HTTP and writes a job file to the user's home:
# nothing a scheduled archiver (a cron job, a systemd service user) should open.
REMOTE_CONTROL_ENABLED = False

ITEM_PIPELINES = {
    "pipelines.normalize.NormalizePipeline": 100,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    "pipelines.store.SqliteStorePipeline": 400,
    "pipelines.frontmatter.FrontMatterWriter": 500,
}

# First in, first out: posts are fetched in the order their listing shows them (newest first), within
# the priorities the spider gives (feed, lists, share texts, then posts by age).
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

EXTENSIONS = {
    "crawler.progress.ProgressDisplay": 500,
}

LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.FinewsLogFormatter"
