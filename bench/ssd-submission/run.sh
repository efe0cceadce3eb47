#!/bin/bash
# io_uring against blocking threads, raw O_DIRECT, the SSD tier's I/O shape (docs/ssd-tier.md, "Submission").
# Usage: bench/ssd-submission/run.sh DIR [chunks] [reps]   (apt-get install liburing-dev)
set -eu
dir=${1:?usage: run.sh DIR [chunks] [reps]}
bin=$(mktemp /tmp/tierkv-submission.XXXXXX)
gcc -O2 -pthread -o "$bin" "$(dirname "$0")/submission.c" -luring
"$bin" "$dir/tierkv-submission.blocks" "${2:-48}" "${3:-4}" | sort | awk '{k=$1" "$2; g[k]=g[k]" "$3; c[k]=c[k]" "$5} END {for (k in g) print k ": GB/s" g[k] "; cpu-s/GB" c[k]}' | sort
rm -f "$bin"
