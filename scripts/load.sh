#!/usr/bin/env bash
# make load: start `paredao run` on a temporary data dir with a low proof-of-work
# difficulty (the server's cost of a vote does not depend on it), measure its
# idle CPU and a bare net/http handler, then three phases of DURATION through
# CONNECTIONS connections, each checking acknowledged == counted:
#   max       a population of viewers (a new voter every 5 votes), as fast as possible
#   p80       the same at 80 % of that rate: its latency
#   tireless  each connection one voter who never stops
# PHASES=max runs one. The server runs with a 512 MiB soft memory limit
# (MEMORY_LIMIT), as in a container with 640 MiB: the GC works by it.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-60s}
CONNECTIONS=${CONNECTIONS:-64}
POW=${POW:-10}
PHASES=${PHASES:-max,p80,tireless}
go build -trimpath -o bin/paredao ./cmd/paredao
dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=127.0.0.1:$(port) admin=127.0.0.1:$(port) broker=127.0.0.1:$(port)
PAREDAO_DATA_DIR=$dir PAREDAO_HTTP_ADDR=$http PAREDAO_ADMIN_ADDR=$admin PAREDAO_BROKER_ADDR=$broker \
PAREDAO_POW_MAX_NUMBER=$POW PAREDAO_POW_MAX_LEVEL=0 PAREDAO_VOTES_PER_MINUTE=0 PAREDAO_ADDRESS_VOTES_PER_MINUTE=0 PAREDAO_ADDRESS_COOKIES_PER_MINUTE=0 \
PAREDAO_PRODUCTION_TOKEN=load-token PAREDAO_LOG_LEVEL=warn PAREDAO_MEMORY_LIMIT=${MEMORY_LIMIT:-512MiB} \
  bin/paredao run >"$dir/stdout.log" 2>"$dir/stderr.log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for _ in $(seq 1 300); do
  curl -fsS "http://$admin/readyz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/stderr.log"; exit 1; }
  sleep 0.1
done
echo "paredao run (pid $pid) ready on http://$http; voting for $DURATION over $CONNECTIONS connections"
bin/paredao load --url "http://$http" --duration "$DURATION" --connections "$CONNECTIONS" \
  --token load-token --server-pid "$pid" --baseline 5s --votes-per-voter 5 --idle 10s \
  --kafka "$broker" --phases "$PHASES" "$@"
