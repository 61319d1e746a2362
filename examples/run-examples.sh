#!/bin/sh
# Run the task examples in order on the fixture: train -> (anthem index) ->
# search, explain, compose.  usage: run-examples.sh TRAIN SEARCH EXPLAIN COMPOSE ANTHEM FIXTURE
set -eu
train=$1 search=$2 explain=$3 compose=$4 anthem=$5 fx=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$train" "$fx/catalog.tsv" "$fx/train.tsv" "$tmp/m.anthem"
"$anthem" index --model "$tmp/m.anthem" --catalog "$fx/catalog.tsv" --out "$tmp/i.index"
"$search" "$tmp/m.anthem" "$tmp/i.index" "winter hat" 5 | tee "$tmp/hits"
[ "$(wc -l < "$tmp/hits")" -eq 5 ] || { echo "search: expected 5 hits" >&2; exit 1; }
"$search" --and winter --or cap "$tmp/m.anthem" "$tmp/i.index" "hat" 5 | tee "$tmp/composed"
[ "$(wc -l < "$tmp/composed")" -eq 5 ] || { echo "search --and --or: expected 5 hits" >&2; exit 1; }
! cmp -s "$tmp/hits" "$tmp/composed" || { echo "search: --and/--or changed nothing" >&2; exit 1; }
"$explain" "$tmp/m.anthem" "headgear" "bowler hat, derby hat: a felt hat"
"$compose" "$tmp/m.anthem" "$tmp/i.index" "hat" "fur"
echo "examples: all ran"
