#!/usr/bin/env bash
# Every benchmark, one after the other (docs/benchmarks.md): exits non-zero when any
# goal is missed, after running them all. Needs PostgreSQL: BENCH_DATABASE_URL names
# the server (default postgres://postgres@127.0.0.1:5432/overrides_bench; each
# benchmark creates and drops a database of its own there). bench/export.py needs
# Debian's wrk and installs it when running as root.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

failed=()
for bench in engine pages export agent agent_postfix impact browser; do  # browser: Debian chromium, docs/benchmarks.md
  echo "== bench/$bench.py"
  if ! $PY "bench/$bench.py"; then
    failed+=("$bench")
  fi
  echo
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "goals missed in: ${failed[*]}"
  exit 1
fi
echo "every benchmark met its goals"
