#!/usr/bin/env bash
# Run a command with a Docker engine and the pump image available (the container tests need
# both). Used by `make pytest` / `make test-containers`:
#
#   infra/docker-engine.sh run CMD...
#
# - An engine that answers `docker info` is used as it is.
# - Otherwise, when `dockerd` is installed and we are root, a private dockerd is started with
#   its own data root, exec root, pid file and socket under $FLOWPLANE_DOCKER_DIR (default
#   /var/tmp/flowplane-docker): no bridge and no iptables (containers use the host network),
#   and stopped by its pid file when the last command using it ends.
# - The pump's base image is built from the machine's apt mirror with mmdebstrap and imported
#   (`flowplane/pump-base:<suite>`, kept between runs), then the pump image is built from
#   wheels built on the host (infra/pump-image.sh, tagged by content, kept between runs).
# - CMD runs with DOCKER_HOST and FLOWPLANE_TEST_PUMP_IMAGE set; when no engine can be had,
#   with FLOWPLANE_TEST_DOCKER_UNAVAILABLE=<why> instead (tests/containers skip with it, or
#   fail under FLOWPLANE_TEST_REQUIRE_SERVICES=1).
set -uo pipefail
cd "$(dirname "$0")/.."

state=${FLOWPLANE_DOCKER_DIR:-/var/tmp/flowplane-docker}
socket="$state/docker.sock"
pidfile="$state/docker.pid"
exec_root="$state/exec"
users="$state/users"
started_here=0

log() { echo "docker-engine: $*" >&2; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

apt_mirror() {
  if [ -n "${FLOWPLANE_APT_MIRROR:-}" ]; then echo "$FLOWPLANE_APT_MIRROR"; return; fi
  local found
  found=$(grep -hoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+' \
            /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
            2>/dev/null | grep -oE 'https?://[^[:space:]]+' | grep -E '/debian/?$' | head -n1)
  echo "${found:-http://deb.debian.org/debian}"
}

start_private_engine() {
  if ! command -v dockerd >/dev/null; then
    unavailable="dockerd is not installed (apt-get install docker.io)"; return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    unavailable="dockerd needs root, and no engine answers on ${DOCKER_HOST:-the default socket}"
    return 1
  fi
  mkdir -p "$state" "$users"
  export DOCKER_HOST="unix://$socket"
  exec 9>"$state/lock"
  flock 9
  if ! engine_answers; then
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill "$(cat "$pidfile")" 2>/dev/null; sleep 2
    fi
    rm -f "$pidfile" "$socket"
    log "starting a private dockerd ($state)"
    setsid dockerd --iptables=false --ip6tables=false --bridge=none \
      --storage-driver=overlay2 --data-root "$state/data" --exec-root "$exec_root" \
      --pidfile "$pidfile" -H "unix://$socket" >"$state/dockerd.log" 2>&1 </dev/null 9>&- &
    for _ in $(seq 1 100); do engine_answers && break; sleep 0.2; done
    if ! engine_answers; then
      exec 9>&-
      unavailable="dockerd did not answer within 20 s: $(tail -n 3 "$state/dockerd.log" | tr '\n' ' ')"
      return 1
    fi
  fi
  touch "$users/$$"
  exec 9>&-
  started_here=1
}

stop_private_engine() {
  [ "$started_here" = 1 ] || return 0
  exec 9>"$state/lock"
  flock 9
  rm -f "$users/$$"
  for user in "$users"/*; do
    [ -e "$user" ] || continue
    if kill -0 "$(basename "$user")" 2>/dev/null; then exec 9>&-; return 0; fi
    rm -f "$user"  # a run that died without cleaning up
  done
  if [ -f "$pidfile" ]; then
    local pid; pid=$(cat "$pidfile")
    log "stopping the private dockerd (pid $pid)"
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null
  fi
  if mountpoint -q "$exec_root/netns/default" 2>/dev/null; then
    umount "$exec_root/netns/default" 2>/dev/null || umount -l "$exec_root/netns/default"
  fi
  exec 9>&-
}

base_image() {
  local suite name
  suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")
  name="flowplane/pump-base:${suite:-bookworm}"
  if docker image inspect "$name" >/dev/null 2>&1; then echo "$name"; return 0; fi
  if ! command -v mmdebstrap >/dev/null; then
    log "mmdebstrap is not installed (apt-get install mmdebstrap)"; return 1
  fi
  local mirror; mirror=$(apt_mirror)
  log "building $name from $mirror with mmdebstrap (once; about 2 minutes)"
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
      "${suite:-bookworm}" - "$mirror" 2>"$state/mmdebstrap.log" \
    | docker import - "$name" >/dev/null || {
      log "mmdebstrap failed: $(tail -n 3 "$state/mmdebstrap.log" | tr '\n' ' ')"; return 1; }
  echo "$name"
}

pump_image() {
  local base
  if [ -n "${FLOWPLANE_TEST_PUMP_BASE_IMAGE:-}" ]; then base=$FLOWPLANE_TEST_PUMP_BASE_IMAGE
  else base=$(base_image) || return 1
  fi
  BASE_IMAGE="$base" FLOWPLANE_IMAGE_IF_CHANGED=1 PYTHON="${PYTHON:-python3}" \
    infra/pump-image.sh flowplane/pump:test
}

if [ "${1:-}" != run ] || [ $# -lt 2 ]; then
  echo "usage: infra/docker-engine.sh run CMD..." >&2
  exit 2
fi
shift

mkdir -p "$state" 2>/dev/null
unavailable=""
if ! engine_answers; then
  start_private_engine
fi
trap stop_private_engine EXIT
if [ -z "$unavailable" ]; then
  if image=$(pump_image); then
    export FLOWPLANE_TEST_PUMP_IMAGE=$image
    log "engine ${DOCKER_HOST:-default}, pump image $image"
  else
    unavailable="the pump image could not be built (see the messages above)"
  fi
fi
if [ -n "$unavailable" ]; then
  log "no Docker engine for the container tests: $unavailable"
  export FLOWPLANE_TEST_DOCKER_UNAVAILABLE=$unavailable
fi
"$@"
rc=$?
exit $rc
