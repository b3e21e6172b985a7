"""Gunicorn settings for Beeldcoach in production, behind nginx (config/nginx.conf).

Run:  gunicorn -c /path/to/gunicorn.conf.py
Settings given on the command line override the ones here; so do GUNICORN_CMD_ARGS and, for
the number of workers, WEB_CONCURRENCY (both read by gunicorn itself). The tool's own settings
come from the BEELDCOACH_* environment (see beeldcoach.env.example), not from this file.
"""

import multiprocessing
import os

wsgi_app = "lti_tool.wsgi:app"

# Only nginx on the same machine talks to gunicorn; nginx terminates TLS.
bind = "127.0.0.1:8000"

# gthread, one process per core, a few threads each. A launch costs ~25 ms of Python CPU and
# waits on PostgreSQL ~20 times; while one thread waits, another runs. On 2 cores (measured,
# benchmarks/README.md) this kept a complete LTI launch under 100 ms at p99 up to ~30 launches/s,
# where 3 sync workers already queued (p99 ~100-600 ms). Slow I/O (an upload chunk written to the
# media disk, a platform's JWKS fetch) holds one thread, not a whole worker. More threads add no
# speed (the GIL runs one at a time per process), only queueing inside a busy worker.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
threads = 4

# A worker that does not report to the master for this long is killed and replaced. With gthread
# the heartbeat does not wait for requests, so slow requests (a 64 MB upload chunk) are not cut.
timeout = 60
# On SIGTERM or HUP: finish the requests in flight for up to this long.
graceful_timeout = 30
# Idle keep-alive connections from nginx stay open this long. Longer than nginx's upstream
# keepalive_timeout (60s in nginx.conf), so that nginx, not gunicorn, closes an idle connection:
# otherwise nginx may send a request on a socket gunicorn is closing, and answer 502.
keepalive = 75

# Replace each worker after a few thousand requests: a slow leak (in a dependency) cannot grow
# without bound; the jitter keeps the workers from restarting all at once.
max_requests = 5000
max_requests_jitter = 500

# The heartbeat file lives in memory, not on a disk that may stall under heavy upload traffic.
worker_tmp_dir = "/dev/shm"  # noqa: S108 - heartbeat files, no data

# Trust X-Forwarded-* from nginx on this machine only. Flask's ProxyFix (BEELDCOACH_PROXY_FIX=1)
# uses the same headers to build https URLs and Secure cookies.
forwarded_allow_ips = "127.0.0.1,::1"

# gunicorn 25.1+ opens a control socket (for `gunicornc`). Under systemd, RuntimeDirectory= in
# beeldcoach-web.service gives it a private place; elsewhere gunicorn's default applies.
if os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = os.path.join(os.environ["RUNTIME_DIRECTORY"].split(":")[0], "gunicorn.ctl")

# Logs go to stdout/stderr, which systemd's journal collects.
accesslog = "-"
errorlog = "-"
loglevel = "info"
# The path only (%(U)s), never the query string or the request line (%(r)s): query strings carry
# short-lived launch and start tokens. Nor the Location response header or the Referer, for the
# same reason. The client address is nginx's X-Forwarded-For; %(M)s is the time in milliseconds.
access_log_format = '%({x-forwarded-for}i)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
