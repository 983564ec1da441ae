#!/usr/bin/env bash
# One-node Ceph cluster with a RADOS Gateway (S3) on 127.0.0.1 for the S3 tests and bench:
# 1 monitor, 1 memstore OSD, no manager, pool size 1, cephx, radosgw beast.
# Everything lives under $CEPH_TEST_DIR (default /tmp/nora-ts-ceph); /etc/ceph is never read.
# `start` writes $DIR/env (endpoint and the test user's keys) once radosgw answers; it is a
# no-op when the gateway already answers. `stop` ends the daemons by PID and removes $DIR.
# The settings and their reasons: spec/s3-ceph.md.
set -euo pipefail

DIR="${CEPH_TEST_DIR:-/tmp/nora-ts-ceph}"
RGW_PORT="${CEPH_TEST_RGW_PORT:-7480}"
MON_PORT="${CEPH_TEST_MON_PORT:-3300}"
ACCESS_KEY="noratsaccesskey0001"
SECRET_KEY="noratssecretkey0000000000000000000000001"
export CEPH_CONF="$DIR/ceph.conf"

log() { echo "ceph.sh: $*" >&2; }

rgw_up() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$RGW_PORT/"; }

wait_for() { # <seconds> <description> <command...>
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out waiting for $what (logs in $DIR/log)"
      return 1
    fi
    sleep 0.3
  done
}

stop_pid() { # <pidfile>: SIGTERM, SIGKILL after 10 s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

stop() {
  stop_pid "$DIR/run/radosgw.pid"
  stop_pid "$DIR/run/osd.0.pid"
  stop_pid "$DIR/run/mon.a.pid"
  rm -rf "$DIR"
}

write_conf() {
  cat >"$CEPH_CONF" <<CONF
[global]
fsid = $(uuidgen)
mon initial members = a
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $DIR/keyring
run dir = $DIR/run
log file = $DIR/log/\$name.log
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1

[mon]
mon data = $DIR/mon/\$cluster-\$id

[osd]
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
# memory is only used as objects are written; the bench's S3 scenarios push 1 GiB at a time
memstore device bytes = 12884901888
osd max object size = 1073741824

[client.rgw.nora]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT tcp_nodelay=1
rgw dns name = localhost
rgw init timeout = 90
# Deleted objects' data is reclaimed by RGW's garbage collector, by default after 2 h: test
# buckets and the bench's 1 GiB pushes would fill the OSD (writes then hang). Reclaim at once.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
pid file = $DIR/run/radosgw.pid
CONF
}

start() {
  if rgw_up && [ -f "$DIR/env" ]; then
    log "already running on 127.0.0.1:$RGW_PORT"
    return 0
  fi
  for t in ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool uuidgen; do
    command -v "$t" >/dev/null || { log "$t not installed (apt-get install ceph-mon ceph-osd radosgw ceph-common uuid-runtime)"; exit 1; }
  done
  stop # a half-started cluster from an earlier run
  mkdir -p "$DIR"/{run,log,mon,osd/ceph-0}
  write_conf

  # One keyring with every identity: ceph-mon --mkfs imports them all.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n osd.0 \
    --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.rgw.nora \
    --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

  local fsid
  fsid=$(sed -n 's/^fsid = //p' "$CEPH_CONF")
  monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$DIR/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring" >/dev/null 2>&1
  ceph-mon -i a 2>>"$DIR/log/start.log"
  wait_for 30 "the monitor" ceph -s --connect-timeout 2

  local uuid id
  uuid=$(uuidgen)
  id=$(ceph osd new "$uuid")
  ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >/dev/null 2>&1
  ceph-osd -i "$id" 2>>"$DIR/log/start.log"
  wait_for 30 "the OSD" bash -c "ceph osd stat | grep -q '1 up'"

  for p in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    ceph osd pool create "$p" 8 8 >/dev/null 2>&1
    ceph osd pool application enable "$p" rgw >/dev/null 2>&1
  done

  radosgw -n client.rgw.nora
  wait_for 90 "radosgw on 127.0.0.1:$RGW_PORT" rgw_up
  radosgw-admin user create --uid=nora-ts --display-name="nora-ts tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null

  # The tests' well-known file (shell and JSON-free key=value lines).
  cat >"$DIR/env.tmp" <<ENV
CEPH_S3_URL=http://127.0.0.1:$RGW_PORT
CEPH_S3_ACCESS_KEY=$ACCESS_KEY
CEPH_S3_SECRET_KEY=$SECRET_KEY
CEPH_S3_REGION=us-east-1
ENV
  mv "$DIR/env.tmp" "$DIR/env"
  log "radosgw ready on http://127.0.0.1:$RGW_PORT (keys in $DIR/env)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
