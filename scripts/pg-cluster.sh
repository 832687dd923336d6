#!/usr/bin/env bash
# A local PostgreSQL high-availability cluster for tempid's failover tests and
# for operators trying tempid on one: one etcd and three Patroni nodes (a
# primary and two replicas, synchronous_mode on), all on loopback ports, in
# one directory. Debian's packages only: patroni, etcd-server and
# PostgreSQL 15 (.ci/run installs them when missing).
#
#   scripts/pg-cluster.sh start|stop|status|wait|failover|kill NODE|etcd stop|etcd start|dsn [DIR]
#
#   start      start etcd and the three nodes; wait until there is a primary,
#              a synchronous standby and the database tempid (well under a
#              minute); print the DSN for tempid's --database
#   stop       stop the nodes and etcd, and remove DIR
#   status     print the members; exit 0 when there is a primary
#   failover   SIGKILL the primary's postgres (its postmaster), then wait
#              until another node is primary; prints "killed NODE" at once
#              and "primary NODE after S s" at the end
#   kill NODE  SIGKILL one node's postgres (pg1, pg2 or pg3); Patroni restarts it
#   etcd stop|start   stop etcd (the cluster loses its lock store) or start it again
#   wait       wait until the cluster is whole again (a primary, a
#              synchronous standby, a third member), then print the members
#   dsn        print the DSN
#
# DIR is PG_CLUSTER_DIR, default ${TMPDIR:-/tmp}/tempid-pg-cluster. Ports, all
# on 127.0.0.1 (each overridable): PostgreSQL PG_CLUSTER_PG_PORT (5441, then
# +1, +2), Patroni's REST API PG_CLUSTER_REST_PORT (8011, +1, +2), etcd
# PG_CLUSTER_ETCD_PORT (2391 for clients, +1 for peers). They stay clear of a
# system PostgreSQL on 5432 and a system etcd on 2379.
#
# PostgreSQL refuses to run as root, so when started as root the script runs
# etcd and Patroni as the user postgres (PG_CLUSTER_USER). Authentication is
# trust on loopback: this cluster is for one machine, never for production.
set -euo pipefail

cmd=${1:-}
[ $# -gt 0 ] && shift
arg=""
case "$cmd" in
  kill | etcd) arg=${1:?"$cmd needs an argument"}; shift ;;
esac
dir=${1:-${PG_CLUSTER_DIR:-${TMPDIR:-/tmp}/tempid-pg-cluster}}
pg_port=${PG_CLUSTER_PG_PORT:-5441}
rest_port=${PG_CLUSTER_REST_PORT:-8011}
etcd_port=${PG_CLUSTER_ETCD_PORT:-2391}
pg_bin=${PG_CLUSTER_PG_BIN:-/usr/lib/postgresql/15/bin}
run_user=${PG_CLUSTER_USER:-postgres}
nodes=(pg1 pg2 pg3)
# Debian's python3 (Patroni's own): a python3 earlier in PATH may be a
# version manager's shim, slow to start on a busy machine.
python=/usr/bin/python3
[ -x "$python" ] || python=python3

die() { echo "pg-cluster: $*" >&2; exit 1; }

# as runs a command as the cluster's user: root cannot run PostgreSQL. It
# is a prefix, not a function, so that "${as[@]}" cmd & execs cmd in the
# background process and $! is cmd's own pid.
as=(env HOME="$dir")
if [ "$(id -u)" = 0 ]; then
  as=(setpriv --reuid="$run_user" --regid="$run_user" --init-groups env HOME="$dir")
fi

node_index() { # pg2 → 1
  local i
  for i in "${!nodes[@]}"; do [ "${nodes[$i]}" = "$1" ] && { echo "$i"; return; }; done
  die "no node $1 (one of ${nodes[*]})"
}

dsn() {
  echo "postgres://postgres@127.0.0.1:$pg_port,127.0.0.1:$((pg_port + 1)),127.0.0.1:$((pg_port + 2))/tempid?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
}

# cluster prints Patroni's view of the members as lines "NAME ROLE STATE
# PORT" (role leader, sync_standby or replica), asking each node's REST API
# until one answers.
cluster() {
  local i
  for i in 0 1 2; do
    if curl -sf --max-time 1 "http://127.0.0.1:$((rest_port + i))/cluster" 2>/dev/null |
      "$python" -c 'import json,sys
for m in json.load(sys.stdin).get("members", []):
    print(m["name"], m.get("role", "-"), m.get("state", "-"), m.get("port", "-"))' 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

primary() { cluster 2>/dev/null | awk '$2 == "leader" && $3 == "running" { print $1 }'; }

postmaster_pid() { head -n1 "$dir/$1/data/postmaster.pid" 2>/dev/null || true; }

running() { [ -f "$dir/$1.pid" ] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

start_etcd() {
  running etcd && return 0
  "${as[@]}" etcd --name etcd1 --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
    --initial-cluster "etcd1=http://127.0.0.1:$((etcd_port + 1))" --initial-cluster-state new \
    --listen-metrics-urls "" </dev/null >>"$dir/etcd.log" 2>&1 &
  echo $! >"$dir/etcd.pid"
  for _ in $(seq 1 100); do
    curl -sf --max-time 1 "http://127.0.0.1:$etcd_port/health" >/dev/null 2>&1 && return 0
    running etcd || break
    sleep 0.1
  done
  tail -n 20 "$dir/etcd.log" >&2
  die "etcd did not start"
}

stop_pid() { # NAME: SIGTERM, then SIGKILL after 20 s
  local pid
  [ -f "$dir/$1.pid" ] || return 0
  pid=$(cat "$dir/$1.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$1.pid"
}

write_config() { # NAME INDEX
  local name=$1 i=$2
  cat >"$dir/$name.yml" <<EOF
scope: tempid
namespace: /tempid-local/
name: $name
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$((rest_port + i))
  connect_address: 127.0.0.1:$((rest_port + i))
etcd3:
  hosts: 127.0.0.1:$etcd_port
bootstrap:
  dcs:
    # ttl is how long a primary that lost etcd keeps its lock before it
    # demotes itself; loop_wait how often Patroni looks.
    ttl: 10
    loop_wait: 1
    retry_timeout: 3
    maximum_lag_on_failover: 1048576
    # A commit is acknowledged only when a second node has it, and only
    # that synchronous standby may be promoted: nothing acknowledged is lost.
    synchronous_mode: true
    # A crashed primary is failed over at once instead of being restarted
    # in place (safe with synchronous_mode).
    primary_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        shared_buffers: 64MB
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 64MB
  initdb:
    - no-sync
    - encoding: UTF8
    - locale: C.UTF-8
    - auth: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$((pg_port + i))
  connect_address: 127.0.0.1:$((pg_port + i))
  data_dir: $dir/$name/data
  bin_dir: $pg_bin
  pgpass: $dir/$name/pgpass
  authentication:
    superuser:
      username: postgres
      password: postgres
    replication:
      username: replicator
      password: replicator
    rewind:
      username: postgres
      password: postgres
  parameters:
    unix_socket_directories: $dir/$name
tags:
  nofailover: false
  noloadbalance: false
EOF
}

# wait_healthy waits up to $1 seconds for a running primary, a synchronous
# standby and a third member running: the cluster as it was started.
wait_healthy() {
  local deadline=$((SECONDS + $1)) view=""
  while :; do
    view=$(cluster 2>/dev/null || true)
    if [ -n "$(awk '$2 == "leader" && $3 == "running"' <<<"$view")" ] &&
      grep -q ' sync_standby \(running\|streaming\) ' <<<"$view" &&
      [ "$(awk '$3 == "running" || $3 == "streaming"' <<<"$view" | wc -l)" = 3 ]; then
      return 0
    fi
    for name in "${nodes[@]}"; do
      running "$name" || { tail -n 30 "$dir/$name.log" >&2; die "patroni $name exited"; }
    done
    [ $SECONDS -lt $deadline ] || { echo "$view" >&2; die "the cluster was not healthy within $1 s (logs in $dir)"; }
    sleep 0.5
  done
}

start() {
  for tool in patroni etcd curl "$python" setpriv "$pg_bin/postgres" "$pg_bin/psql"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found: apt-get install -y patroni etcd-server postgresql-15 (or run .ci/run)"
  done
  if running etcd; then
    die "a cluster is already running in $dir (scripts/pg-cluster.sh stop $dir)"
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown "$run_user:" "$dir"
    "${as[@]}" test -w "$dir" || die "$run_user cannot write $dir: pick a directory whose parents it can enter"
  fi
  chmod 700 "$dir"
  local t0=$SECONDS
  start_etcd
  for i in 0 1 2; do
    local name=${nodes[$i]}
    "${as[@]}" mkdir -p "$dir/$name"
    write_config "$name" "$i"
    chown "$run_user:" "$dir/$name.yml" 2>/dev/null || true
    "${as[@]}" patroni "$dir/$name.yml" </dev/null >>"$dir/$name.log" 2>&1 &
    echo $! >"$dir/$name.pid"
  done
  wait_healthy "${PG_CLUSTER_START_TIMEOUT:-120}"
  local p
  p=$(cluster | awk '$2 == "leader" { print $4 }')
  "$pg_bin/psql" -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'tempid'" | grep -q 1 ||
    "$pg_bin/psql" -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -c "CREATE DATABASE tempid" >/dev/null
  echo "cluster up in $((SECONDS - t0)) s in $dir"
  cluster | sed 's/^/  /'
  echo "DSN: $(dsn)"
}

stop() {
  [ -d "$dir" ] || return 0
  for name in "${nodes[@]}"; do stop_pid "$name" & done
  wait
  # A postgres whose Patroni was killed outlives it: stop it too.
  for name in "${nodes[@]}"; do
    local pid
    pid=$(postmaster_pid "$name")
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  done
  stop_pid etcd
  rm -rf "$dir"
}

status() {
  local view
  view=$(cluster) || die "no Patroni node answers (is the cluster in $dir started?)"
  echo "$view"
  [ -n "$(primary)" ]
}

kill_node() { # NAME
  local pid
  pid=$(postmaster_pid "$1")
  [ -n "$pid" ] || die "$1 has no running postgres"
  kill -KILL "$pid"
  echo "killed $1"
}

failover() {
  local old t0=$SECONDS
  old=$(primary)
  [ -n "$old" ] || die "no primary to kill"
  kill_node "$old"
  local deadline=$((SECONDS + 60)) p=""
  while [ $SECONDS -lt $deadline ]; do
    p=$(primary)
    if [ -n "$p" ] && [ "$p" != "$old" ]; then
      echo "primary $p after $((SECONDS - t0)) s"
      return 0
    fi
    sleep 0.2
  done
  die "no new primary within 60 s"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  wait) wait_healthy "${PG_CLUSTER_WAIT:-60}"; cluster ;;
  failover) failover ;;
  kill) node_index "$arg" >/dev/null; kill_node "$arg" ;;
  etcd)
    case "$arg" in
      stop) stop_pid etcd; echo "etcd stopped" ;;
      start) start_etcd; echo "etcd started" ;;
      *) die "etcd stop|start" ;;
    esac ;;
  dsn) dsn ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
