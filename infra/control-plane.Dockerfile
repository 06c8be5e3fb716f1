# The control plane image (flowplane/control-plane): API, editor, reconciler, recorder,
# scheduler. With the process backend it runs pumps itself, inside bubblewrap when the
# container may create user namespaces (else /health warns); the compose file uses the docker
# backend instead, and Kubernetes the kubernetes backend.
#   docker build -f infra/control-plane.Dockerfile -t flowplane/control-plane:latest .

FROM node:20-bookworm-slim AS editor
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# The AssemblyScript compiler the control plane runs (sandboxed) to build users' modules.
FROM node:20-bookworm-slim AS toolchain
WORKDIR /src/toolchain
COPY control_plane/modules/toolchain/package.json control_plane/modules/toolchain/package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLOWPLANE_DATA_DIR=/data
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap libstdc++6 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --create-home --home-dir /home/flowplane flowplane \
    && mkdir /data && chown flowplane /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY control_plane/ control_plane/
COPY pump/ pump/
COPY migrations/ migrations/
# Editable: the app finds migrations/ and frontend/dist next to its package directory.
RUN rm -rf pump/examples/assemblyscript/node_modules \
    && pip install -e . \
    && python -m compileall -q control_plane pump
COPY --from=editor /src/frontend/dist frontend/dist
COPY --from=toolchain /usr/local/bin/node /usr/local/bin/node
COPY --from=toolchain /src/toolchain/node_modules control_plane/modules/toolchain/node_modules

USER flowplane
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["flowplane", "up", "--host", "0.0.0.0", "--port", "8000"]
