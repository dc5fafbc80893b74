# slogate: multi-stage, slim, non-root. Build: docker build -t slogate .
# Run:   docker run -v $PWD/slo_specs:/specs:ro -v $PWD/slogate.yaml:/etc/slogate/slogate.yaml:ro \
#          -v slogate-data:/var/lib/slogate -p 8080:8080 slogate \
#          --prometheus-url http://prometheus:9090
# The install steps are the ones scripts/setup runs in CI (pip install of this package).
# BASE: any Debian-based image with Python 3.11 and its venv module. Where no registry can be
# reached, scripts/image-test makes one with debootstrap from Debian's packages
# (bookworm: python3, python3-venv) and builds with --build-arg BASE=localhost/slogate-base.
# PIP_FIND_LINKS and PIP_NO_INDEX (unset by default) let a build install from wheels made
# beforehand (scripts/image-test mounts them) instead of reaching PyPI from inside the build.
ARG BASE=python:3.11-slim

FROM ${BASE} AS build
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
WORKDIR /src
COPY pyproject.toml README.md ./
COPY slogate ./slogate
RUN python3 -m venv /opt/slogate \
 && /opt/slogate/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/slogate/bin/pip install --no-cache-dir '.[otlp]'

FROM ${BASE}
RUN groupadd --system --gid 10001 slogate \
 && useradd --system --uid 10001 --gid slogate --home-dir /var/lib/slogate --shell /usr/sbin/nologin slogate \
 && mkdir -p /var/lib/slogate /etc/slogate /specs \
 && chown slogate:slogate /var/lib/slogate
COPY --from=build /opt/slogate /opt/slogate
ENV PATH=/opt/slogate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SLOGATE_LOG_FORMAT=json
USER 10001:10001
WORKDIR /var/lib/slogate
VOLUME ["/specs", "/etc/slogate", "/var/lib/slogate"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["slogate", "serve", "--specs", "/specs", "--listen", "0.0.0.0:8080", "--store", "/var/lib/slogate/slogate.db"]
CMD ["--config", "/etc/slogate/slogate.yaml"]
