# ministry-monitor: `monitor run` on the shipped watch-list. See docs/service.md.
#
#   docker build -t ministry-monitor .
#   docker run -d --name monitor -e MONITOR_HTTP_TOKEN="$(openssl rand -hex 24)" \
#       -v monitor-data:/app/data -p 127.0.0.1:8787:8787 ministry-monitor
#
# The SQLite database (and the daemon's pid file) live on the /app/data volume; mount your own watch-list over
# /app/config/sources.toml. `docker kill -s HUP monitor` reloads it; `docker stop` stops the daemon cleanly.
#
# Without a package index: put the wheels in a `wheelhouse/` folder first and the build uses them and no index
# (`pip wheel --wheel-dir wheelhouse '.[postgres]' 'setuptools>=77'`; `.ci/image` does this, and builds with
# `--network none`). BASE_IMAGE is any Debian-like image with Python 3.11 and its venv module: `.ci/image` uses
# Debian 12's own python3 from a debootstrap. Both work with the legacy builder and with BuildKit.

ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# A venv: Debian's python3 is "externally managed" (PEP 668) and has no pip of its own; python:3.11-slim's has.
RUN python3 -m venv /opt/venv
# wheelhouse/ is optional; pyproject.toml is named too so that the COPY has a source when there is none.
COPY pyproject.toml wheelhouse* /wheelhouse/
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY storage ./storage
RUN if ls /wheelhouse/*.whl >/dev/null 2>&1; then set -- --no-index --find-links=/wheelhouse; fi \
    && /opt/venv/bin/pip install "$@" ".[postgres]" \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
# The venv's bin/ comes first: `monitor`, and the `python` that the health check runs (Debian has only python3).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 monitor \
    && useradd --system --uid 10001 --gid monitor --home-dir /app --no-create-home --shell /usr/sbin/nologin monitor
COPY --from=build /opt/venv /opt/venv
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
