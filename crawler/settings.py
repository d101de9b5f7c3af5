"""Scrapy settings for finews archive (``scrapy crawl site`` and ``finews crawl`` both use these)."""

BOT_NAME = "finews"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# `scrapy crawl` refuses a locked output in one line, as `finews crawl` does.
COMMANDS_MODULE = "crawler.commands"

# The site, the share host that serves each article's text, and where the archive goes.
FINEWS_SITE_URL = "http://finews.withounder.com/"
FINEWS_SHARE_HOST = "finews.zning.xyz"
FINEWS_FOLLOW_SHARE = True
# A post waits at most this long for its text from the share host, which is asked once (no retries:
# ``finews share --backfill`` is the retry); after FINEWS_SHARE_BREAKER requests in a row without an
# answer it is not asked again in this run (0: always asked). See crawler/sharehost.py.
FINEWS_SHARE_TIMEOUT = 10.0
FINEWS_SHARE_BREAKER = 5
FINEWS_OUTPUT = "output"
# Fetch every listed post again (``finews crawl --full``); by default an archived post is skipped.
FINEWS_FULL = False
# The crawl_runs row ``finews crawl`` started or resumes; 0: the store starts one (``scrapy crawl site``).
FINEWS_RUN_ID = 0
# A live progress display on stderr (``finews crawl`` on a terminal).
FINEWS_PROGRESS = False
FINEWS_PROGRESS_INTERVAL = 0.5
# The archive's writes are grouped into one transaction committed this often (pipelines/archive.py): a
# commit per write cost more than all the rest of the store (BENCHMARKS.md). A kill loses at most this
# much work, whole posts only, which the next run fetches again. 0: one commit per write.
FINEWS_COMMIT_SECONDS = 0.5
# Every fetched page is kept as WARC records in OUTPUT/warc, indexed by the archive's ``pages``
# (crawler/pagestore.py, pipelines/warc.py).
FINEWS_STORE_PAGES = True
# A WARC file is closed, and the next one started, once it passes this size.
FINEWS_WARC_MAX_BYTES = 100 * 1024 * 1024
# Answer every request from those stored pages, never the network: set by the reparse spider.
FINEWS_REPLAY = False

# The distributed crawl (crawler/distributed): the Redis server of the shared frontier (``--redis``), the
# prefix of its keys, how long a silent worker counts as alive (its requests then go back to the frontier),
# how long an idle ``finews worker`` waits for work before it exits, and how often an idle worker looks.
FINEWS_REDIS_URL = None
FINEWS_REDIS_PREFIX = "finews"
FINEWS_WORKER_TTL = 15.0
FINEWS_IDLE_EXIT = 30.0
FINEWS_REDIS_POLL_SECONDS = 0.2
# Records (pages, posts) that may wait in Redis for the writer before workers stop taking requests, which
# bounds Redis's memory (a post is about three records, some 30 KB); and the smaller bound for the worker
# inside ``finews crawl --redis``, which shares its process with the writer (see docs/distributed.md).
FINEWS_MAX_BACKLOG = 3000
FINEWS_WRITER_BACKLOG = 400

# Good manners by default: name ourselves (operators add their contact with -s USER_AGENT=…), obey
# robots.txt, let AutoThrottle slow down to what the server answers comfortably, retry only what a
# retry can fix (timeouts, 5xx, 429), and cap what one page may cost.
USER_AGENT = "finews-archive/0.1 (news archiver; +https://pypi.org/project/finews-archive/)"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 16 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
RETRY_TIMES = 2
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
# Scrapy re-reads and re-parses a callback's source for every response to look for a `return value` in a
# generator (its cache is keyed by the short-lived bound method): several % of a crawl (BENCHMARKS.md).
WARN_ON_GENERATOR_RETURN_VALUE = False
# Scrapy's remote control runs posted Python code over HTTP and writes a job file to the user's home:
# nothing a scheduled archiver (a cron job, a systemd service user) should open.
REMOTE_CONTROL_ENABLED = False

# Scrapy starts this many asyncio tasks for every response's output, however little it holds: a callback here
# yields a handful of objects and the pipelines never wait, and starting Scrapy's default 100 cost a fifth
# of a crawl's time (BENCHMARKS.md).
CONCURRENT_ITEMS = 8
# Each spider middleware wraps every callback's output in one more async generator. These two do nothing for
# this crawl: no depth limit (the site is three links deep), and a warning for spider authors who copy meta.
SPIDER_MIDDLEWARES = {
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}

ITEM_PIPELINES = {
    # Once a fault has failed the run (crawler/faults.py) nothing more is written.
    "crawler.faults.StopAfterFailure": 50,
    "pipelines.validate.ValidatePipeline": 200,
    "pipelines.dedupe.DedupePipeline": 300,
    # Only in a reparse: reports what the stored pages now give differently, before the store overwrites it.
    "pipelines.reparse.ReparsePipeline": 350,
    # The file before the row: a file that cannot be written fails the post before the archive holds it, so a
    # row never exists without its file. A row that then fails leaves a file of no row, which the next
    # command removes (pipelines/postsdir.py); the post is still in the frontier either way.
    "pipelines.frontmatter.FrontMatterWriter": 400,
    "pipelines.store.SqliteStorePipeline": 500,
}

# First in, first out: posts are fetched in the order their listing shows them (newest first), within
# the priorities the spider gives (feed, lists, share texts, then posts by age).
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"

# A host answering 429, or 503 with Retry-After, is paused as a whole for its Retry-After (at most
# FINEWS_MAX_RETRY_AFTER seconds; a 429 without one, FINEWS_THROTTLE_PAUSE), then probed with one request;
# the throttled requests are sent again later without spending their retries. A site still throttling
# after FINEWS_THROTTLE_GIVE_UP seconds ends the run (exit 1). See crawler/throttle.py.
FINEWS_MAX_RETRY_AFTER = 300.0
FINEWS_THROTTLE_PAUSE = 5.0
FINEWS_THROTTLE_GIVE_UP = 600.0
# After this many requests to the site in a row got no answer (or a 5xx), the site is taken for gone and
# the run stops (exit 1, the posts not archived left in the frontier). 0: never. See crawler/sitehost.py.
FINEWS_SITE_BREAKER = 10

# Before RedirectMiddleware (600) sees a 3xx: off-site and circular redirects become recorded rejects.
DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.RedirectGuard": 650,
    # Nearest the downloader: a throttling answer is waited out before any other middleware sees it.
    "crawler.throttle.HostThrottle": 970,
    # Then the site's breaker, which sees every attempt's outcome (retries included).
    "crawler.sitehost.SiteHostBreaker": 960,
    # Inside the retries (550), so it sees every attempt's outcome; before DownloaderStats (850), so a share
    # request it refuses is not counted among the run's requests: none was sent.
    "crawler.sharehost.ShareHostBreaker": 800,
    # Only in a reparse: first of all, so that no request goes further than the archive.
    "crawler.pagestore.StoredPages": 10,
}

# Plain HTTP, but no share request goes out once the share host was given up on, not even one that
# passed its breaker before (crawler/sharehost.py).
DOWNLOAD_HANDLERS = {
    "http": "crawler.sharehost.ShareHostGate",
    "https": "crawler.sharehost.ShareHostGate",
}

EXTENSIONS = {
    # A storage error in a pipeline or a callback fails the run at once (crawler/faults.py).
    "crawler.faults.RunFailure": 0,
    # The crawler's one archive connection, for its spider and components (pipelines/crawl_archive.py).
    "pipelines.crawl_archive.CrawlArchive": 10,
    "crawler.progress.ProgressDisplay": 500,
    "crawler.pagestore.PageRecorder": 100,
}

LOG_LEVEL = "INFO"
LOG_FORMATTER = "crawler.logformatter.FinewsLogFormatter"
