# ministry-monitor: `monitor run` on the shipped watch-list. See docs/service.md.
#
#   docker build -t ministry-monitor .
#   docker run -d --name monitor -e MONITOR_HTTP_TOKEN="$(openssl rand -hex 24)" \
#       -v monitor-data:/app/data -p 127.0.0.1:8787:8787 ministry-monitor
#
# The SQLite database (and the daemon's pid file) live on the /app/data volume; mount your own watch-list over
# /app/config/sources.toml. `docker kill -s HUP monitor` reloads it; `docker stop` stops the daemon cleanly.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY storage ./storage
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres]"

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid monitor --home-dir /app --no-create-home --shell /usr/sbin/nologin monitor
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels "ministry-monitor[postgres]" \
    && rm -rf /wheels
WORKDIR /app
COPY config/sources.toml config/sources.toml
# The web view listens on all addresses in here, which needs a token: the image's config reads it from
# MONITOR_HTTP_TOKEN (the container refuses to start without it). /healthz and /readyz stay open for probes.
RUN sed -i 's/^\[monitor\]$/[monitor]\nhttp_token = "${MONITOR_HTTP_TOKEN}"/' config/sources.toml
# The shipped config keeps its database at `../data/monitor.db`, relative to its own folder: /app/data/monitor.db.
RUN mkdir data && chown monitor:monitor data
VOLUME ["/app/data"]
USER monitor:monitor
EXPOSE 8787
# The health check asks /readyz (store reachable, scheduler and delivery running), not just /healthz (alive): a
# daemon whose database is gone is unhealthy. Inside the container the probe server must listen on all addresses to be reachable through a published port;
# publish it on the host's loopback only (`-p 127.0.0.1:8787:8787`). The stop bound stays under Docker's 10 s.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8787/readyz', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["monitor", "--log-format", "json", "run", "--config", "config/sources.toml", "--http", "0.0.0.0:8787", "--stop-timeout", "8"]
