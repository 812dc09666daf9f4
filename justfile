# Hauptbuch task runner. Every recipe is a plain cargo command; CI runs .ci/run and does not need just.

# List the recipes.
default:
    @just --list

# Run the whole test suite.
test:
    cargo test --workspace

# Formatting check and clippy with warnings as errors (what CI checks).
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Benchmarks: the load generator against a fresh --dev node (accepted and included tx/s,
# inclusion latency, node RSS), then block execution, state root and commit.
bench:
    cargo bench --bench load
    cargo bench --bench block

# Every benchmark, one at a time: just bench-one load|block|withdrawals|da|preconf
bench-one NAME:
    cargo bench --bench {{NAME}}

# Run a single-node dev chain (one-validator network) with HTTP (8545) and WS (8546) JSON-RPC.
run:
    cargo run --release -- node --dev --http --ws

# Create a datadir with the devnet genesis.
init:
    cargo run --release -- init --chain devnet --datadir ./data

# Start a local network under ./devnet: N validators (default 4) and a full node on loopback, one DA server.
devnet N="4":
    cargo build --release
    scripts/devnet.sh {{N}}

# Stop the devnet started by `just devnet`.
devnet-stop:
    scripts/devnet.sh stop
