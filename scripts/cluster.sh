#!/usr/bin/env bash
# make cluster: Paredão as operators run it, on one machine: `paredao broker`
# as a three-broker cluster (replication 3), two `web` replicas, two `process` replicas and a `sink`, each its own
# process with its logs under a temporary dir. A load runs through both web
# replicas; a third `process` joins mid-run (the rebalance shows below) and
# leaves; the run ends with acknowledged == counted. Everything stops on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-40s}
RATE=${RATE:-400}
go build -trimpath -o bin/paredao ./cmd/paredao
dir=$(mktemp -d)
echo "cluster logs: $dir"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# three consecutive free ports for the three brokers
ports3() { python3 -c '
import socket
for base in range(20000, 60000, 7):
    try:
        ss = [socket.socket() for _ in range(3)]
        for i, s in enumerate(ss): s.bind(("127.0.0.1", base + i))
        print(base); break
    except OSError: pass
    finally:
        for s in ss: s.close()'; }
base=$(ports3)
BROKER_ADDR=127.0.0.1:$base
export PAREDAO_KAFKA_BROKERS=127.0.0.1:$base,127.0.0.1:$((base+1)),127.0.0.1:$((base+2))
export PAREDAO_REPLICATION=3 PAREDAO_PARTITIONS=6 PAREDAO_POW_MAX_NUMBER=1000 PAREDAO_POW_MAX_LEVEL=0 PAREDAO_VOTES_PER_MINUTE=0
# every voter of the load comes from loopback, a new one every 5 votes
export PAREDAO_ADDRESS_COOKIES_PER_MINUTE=0
export PAREDAO_SECRET=cluster-secret-0123456789abcdef0123456789 PAREDAO_PRODUCTION_TOKEN=cluster-token
export PAREDAO_DATABASE_URL=sqlite:$dir/paredao.db PAREDAO_LOG_LEVEL=info
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
declare -A admin http pid
member() { # member NAME COMMAND
  local name=$1 cmd=$2
  admin[$name]=127.0.0.1:$(port); http[$name]=127.0.0.1:$(port)
  local extra=()
  [ "$cmd" = broker ] && extra=(PAREDAO_BROKER_ADDR=$BROKER_ADDR PAREDAO_BROKER_COUNT=3 PAREDAO_KAFKA_BROKERS=)
  env PAREDAO_DATA_DIR="$dir/$name" PAREDAO_ADMIN_ADDR="${admin[$name]}" PAREDAO_HTTP_ADDR="${http[$name]}" "${extra[@]}" \
    bin/paredao "$cmd" >"$dir/$name.log" 2>&1 &
  pid[$name]=$!; pids+=($!)
  for _ in $(seq 1 600); do
    curl -fsS "http://${admin[$name]}/readyz" >/dev/null 2>&1 && { echo "  $name ($cmd) ready, pid ${pid[$name]}"; return; }
    kill -0 "${pid[$name]}" 2>/dev/null || { echo "$name died:"; tail -20 "$dir/$name.log"; exit 1; }
    sleep 0.1
  done
  echo "$name not ready"; tail -20 "$dir/$name.log"; exit 1
}
echo "starting the cluster"
member broker broker
member sink sink
member p1 process
member p2 process
member web1 web
member web2 web
echo "load: $RATE votes/s for $DURATION through web1 and web2"
bin/paredao load --url "http://${http[web1]},http://${http[web2]}" --duration "$DURATION" --rate "$RATE" \
  --connections 16 --token "$PAREDAO_PRODUCTION_TOKEN" > "$dir/load.out" 2>&1 &
load=$!
sleep 12
echo "a third processor joins"
member p3 process
sleep 12
echo "the third processor leaves"
kill -TERM "${pid[p3]}"; wait "${pid[p3]}" || true
status=0
wait "$load" || status=$?
echo
echo "rebalances (partitions of each processor over time):"
for p in p1 p2 p3; do
  grep "rebalance: partitions assigned" "$dir/$p.log" 2>/dev/null |
    sed -E "s/^time=([^ ]+) .*group=([a-z]+) partitions=\"?([^\"]*)\"?.*$/  \1 $p \2 \3/"
done | sort | head -40
for p in p1 p2 p3; do
  echo "  $p: $(grep -c 'rebalance: partitions assigned' "$dir/$p.log") assignments"
done
echo
cat "$dir/load.out"
exit $status
