# The pump image (flowplane/pump): `python -m pump`, configured only by its environment
# (pump/keys.py PumpEnv), run by the docker and kubernetes backends. Only the pump package and
# its own dependencies: no control-plane code, no shell tools beyond the base image.
#
# Built by `infra/pump-image.sh` (or `make pump-image`) from wheels built on the host, so the
# build itself needs no network and no compiler:
#   infra/pump-image.sh flowplane/pump:latest                      # on python:3.11-slim-bookworm
#   BASE_IMAGE=my-registry/python:3.11 infra/pump-image.sh ...     # any Debian-like base with
#                                                                  # python3 -m venv
# The base must run the same Python minor version as the host that built the wheels.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/pump/bin:$PATH

# A virtualenv works the same on the public Python images and on a Debian base with python3.
COPY infra/pump-requirements.txt /tmp/pump-requirements.txt
COPY infra/pump-wheels/ /tmp/pump-wheels/
RUN python3 -m venv /opt/pump \
    && /opt/pump/bin/pip install --no-index --find-links /tmp/pump-wheels \
       -r /tmp/pump-requirements.txt \
    && rm -rf /tmp/pump-wheels /tmp/pump-requirements.txt

WORKDIR /app
COPY pump/ /app/pump/
# The root filesystem is read-only at run time: compile the bytecode now.
RUN rm -rf /app/pump/examples/assemblyscript/node_modules \
    && /opt/pump/bin/python -m compileall -q /app/pump

# Non-root; the backends also set user 10001 and a read-only root with a tmpfs /tmp.
USER 10001:10001
ENTRYPOINT ["/opt/pump/bin/python", "-m", "pump"]
