# The pump image (flowplane/pump): `python -m pump`, configured only by its environment
# (pump/keys.py PumpEnv), run by the docker and kubernetes backends. Only the pump package and
# its own dependencies: no control-plane code, no shell tools beyond the base image.
#   docker build -f infra/pump.Dockerfile -t flowplane/pump:latest .
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY infra/pump-requirements.txt /tmp/pump-requirements.txt
RUN pip install -r /tmp/pump-requirements.txt && rm /tmp/pump-requirements.txt

WORKDIR /app
COPY pump/ /app/pump/
# The root filesystem is read-only at run time: compile the bytecode now.
RUN rm -rf /app/pump/examples/assemblyscript/node_modules \
    && python -m compileall -q /app/pump

# Non-root; the backends also set user 10001 and a read-only root with a tmpfs /tmp.
USER 10001:10001
ENTRYPOINT ["python", "-m", "pump"]
