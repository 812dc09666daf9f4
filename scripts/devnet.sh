#!/usr/bin/env bash
# Starts a local Hauptbuch network on loopback: N validators (default 4) sharing one DA server,
# and a full node following them over p2p (p2p port P2P_PORT + N, RPC port RPC_PORT + N).
#
#   scripts/devnet.sh [N]          start (keys and chainspec are created on first start)
#   scripts/devnet.sh stop         stop every process of the devnet
#
# Environment: DEVNET_DIR (default ./devnet), BIN (default target/release/hauptbuch-reth),
# BLOCK_TIME_MS (default 250), RPC_PORT (first validator's HTTP port, default 8545),
# P2P_PORT (first validator's p2p port, default 30303), DA_PORT (default 26658), NODE_ARGS
# (extra flags for every node, e.g. pool limits for a load test).
# Everything (keys, chainspec, data, logs, pids) lives under DEVNET_DIR.
set -euo pipefail

DIR=${DEVNET_DIR:-devnet}
BIN=${BIN:-target/release/hauptbuch-reth}
BLOCK_TIME_MS=${BLOCK_TIME_MS:-250}
RPC_PORT=${RPC_PORT:-8545}
P2P_PORT=${P2P_PORT:-30303}
DA_PORT=${DA_PORT:-26658}

stop() {
  if [[ ! -f "$DIR/pids" ]]; then
    echo "no devnet running in $DIR"
    return 0
  fi
  while read -r pid name; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" && echo "stopped $name ($pid)"
    fi
  done < "$DIR/pids"
  rm -f "$DIR/pids"
}

if [[ "${1:-}" == "stop" ]]; then
  stop
  exit 0
fi

N=${1:-4}
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [N | stop]  (N = number of validators, got \`$N\`)" >&2
  exit 2
fi
if [[ ! -x "$BIN" ]]; then
  echo "$BIN not found: build it first (cargo build --release) or set BIN" >&2
  exit 1
fi
if [[ -f "$DIR/pids" ]]; then
  echo "a devnet is already running in $DIR (scripts/devnet.sh stop)" >&2
  exit 1
fi
mkdir -p "$DIR"
: > "$DIR/pids"

# Keys and chainspec, once: the chainspec fixes the validator set.
if [[ ! -f "$DIR/chainspec.json" ]]; then
  validators=()
  for ((i = 0; i < N; i++)); do
    mkdir -p "$DIR/node$i"
    "$BIN" keygen --output "$DIR/node$i/validator.key" > "$DIR/node$i/public-key"
    # Preconfirmation keys where the node looks by default (<datadir>/preconf.key).
    "$BIN" keygen --preconf --output "$DIR/node$i/preconf.key" > /dev/null
    validators+=(--validator "$(cat "$DIR/node$i/public-key")@127.0.0.1:$((P2P_PORT + i))")
    validators+=(--preconf-key "$DIR/node$i/preconf.key")
  done
  "$BIN" dump-genesis --chain devnet "${validators[@]}" --block-time-ms "$BLOCK_TIME_MS" \
    > "$DIR/chainspec.json" 2> "$DIR/dump-genesis.log"
fi
N=$(ls -d "$DIR"/node[0-9]* | grep -vc '\.log$' || true)
# The full node's p2p key: validators let it follow them.
mkdir -p "$DIR/full"
if [[ ! -f "$DIR/full/p2p.key" ]]; then
  "$BIN" keygen --output "$DIR/full/p2p.key" > "$DIR/full/public-key"
fi
FULL_P2P="$(cat "$DIR/full/public-key")@127.0.0.1:$((P2P_PORT + N))"

"$BIN" da-server --datadir "$DIR/da" --addr "127.0.0.1:$DA_PORT" > "$DIR/da.log" 2>&1 &
echo "$! da-server" >> "$DIR/pids"
for _ in $(seq 50); do [[ -f "$DIR/da/auth/admin.token" ]] && break; sleep 0.1; done

for ((i = 0; i < N; i++)); do
  "$BIN" node --chain "$DIR/chainspec.json" --datadir "$DIR/node$i" \
    --validator.key "$DIR/node$i/validator.key" --p2p.addr 127.0.0.1 --p2p.port $((P2P_PORT + i)) \
    --http --http.port $((RPC_PORT + i)) --ws --ws.port $((RPC_PORT + 1000 + i)) \
    --http.api eth,net,web3,txpool,hb --ws.api eth,net,web3,hb \
    --da.url "http://127.0.0.1:$DA_PORT" --da.auth-token-file "$DIR/da/auth/admin.token" \
    --da.batch-interval 500ms --p2p.followers "$FULL_P2P" ${NODE_ARGS:-} > "$DIR/node$i.log" 2>&1 &
  echo "$! node$i" >> "$DIR/pids"
done

# A full node: no validator key; follows the validators over p2p (certificates verified, blocks
# executed) and reads DA for `finalized`.
"$BIN" node --chain "$DIR/chainspec.json" --datadir "$DIR/full" \
  --p2p.key "$DIR/full/p2p.key" --p2p.addr 127.0.0.1 --p2p.port $((P2P_PORT + N)) \
  --http --http.port $((RPC_PORT + N)) --ws --ws.port $((RPC_PORT + 1000 + N)) \
  --http.api eth,net,web3,txpool,hb --ws.api eth,net,web3,hb \
  --da.url "http://127.0.0.1:$DA_PORT" --da.auth-token-file "$DIR/da/auth/admin.token" \
  > "$DIR/full.log" 2>&1 &
echo "$! full" >> "$DIR/pids"

echo "devnet in $DIR: $N validators, block time ${BLOCK_TIME_MS} ms, DA http://127.0.0.1:$DA_PORT"
for ((i = 0; i < N; i++)); do
  echo "  node$i  http://127.0.0.1:$((RPC_PORT + i))  ws://127.0.0.1:$((RPC_PORT + 1000 + i))  log $DIR/node$i.log"
done
echo "  full   http://127.0.0.1:$((RPC_PORT + N))  ws://127.0.0.1:$((RPC_PORT + 1000 + N))  log $DIR/full.log (follows over p2p)"
echo "stop with: just devnet-stop"
