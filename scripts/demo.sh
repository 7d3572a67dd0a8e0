#!/usr/bin/env bash
# Set up the environment (once) and start the bot on the embedded default:
# SQLite under instance/, config.example.toml, the local WeChat API stand-in, the sample bank.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh requirements.txt
CONFIG="${BOT_CONFIG:-config.example.toml}"
python -m bot --config "$CONFIG" init-db
exec python -m bot --config "$CONFIG" serve "$@"
