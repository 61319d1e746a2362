#!/bin/sh
# `anthem serve` (docs/serve.md) on an ephemeral loopback port, with a small
# model and index of the WordNet fixture: every curl example of
# docs/serve.md answers 2xx with JSON (the examples are read from the page,
# so the page and the server cannot drift); the answers hold what the
# library gives; malformed, wrong and oversized requests are each answered
# 4xx and the server stays healthy; models and indexes replaced by rename
# and reloaded (SIGHUP and POST /admin/reload) during a stream of requests
# fail none of them; a failed reload (corrupt file, mismatched pair) keeps
# the old pair and shows in /metrics; SIGTERM exits 0.
# usage: serve.sh ANTHEM FIXTURE_DIR DOC
# ANTHEM_SERVE_VALGRIND=1: the server runs under valgrind memcheck, and any
# error or definite leak fails the test (scripts/test's valgrind step).
set -eu
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
anthem=$(abs "$1") fx=$(abs "$2") doc=$(abs "$3")
tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

fail() {
	echo "FAIL: $*" >&2
	[ ! -f server.log ] || { echo "---- server log (tail)" >&2; tail -n 30 server.log >&2; }
	exit 1
}
ok() { echo "ok: $*"; }

wrap=""
if [ "${ANTHEM_SERVE_VALGRIND:-0}" = 1 ]; then
	wrap="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --quiet"
fi

# two models of the fixture (different seeds, so different fingerprints),
# each with its index
for s in 1 2; do
	"$anthem" train --catalog "$fx/catalog.tsv" --judgments "$fx/train.tsv" \
		--out "a$s.anthem" --dim 8 --buckets 4096 --epochs 1 \
		--epoch-examples 64 --threads 1 --seed "$s" 2>/dev/null || fail "training $s"
	"$anthem" index --model "a$s.anthem" --catalog "$fx/catalog.tsv" \
		--out "a$s.index" 2>/dev/null || fail "indexing $s"
done
cp a1.anthem model.anthem
cp a1.index index.anthem

# ---- start --------------------------------------------------------------------
# (the log exists before the server starts: a background job opens its
# redirection itself, maybe after the first look below)
: >server.log
# shellcheck disable=SC2086
$wrap "$anthem" serve --model model.anthem --index index.anthem \
	--listen 127.0.0.1:0 --threads 4 --max-batch 8 --timeout 20 2>server.log &
pid=$!
port=""
for _ in $(seq 1 600); do
	port=$(sed -n 's/^anthem serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' server.log)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "the server exited at start"
	sleep 0.1
done
if [ -z "$port" ] || [ "$port" = 0 ]; then fail "no 'listening on' line"; fi
url=http://127.0.0.1:$port
ok "listening on 127.0.0.1:$port"

# req METHOD PATH [BODY]: $code gets the status, body.json the body
req() {
	if [ $# -ge 3 ] && [ -n "$3" ]; then
		code=$(curl -s -o body.json -w '%{http_code}' -X "$1" "$url$2" --data-binary "$3")
	else
		code=$(curl -s -o body.json -w '%{http_code}' -X "$1" "$url$2")
	fi
}
expect() { # CODE METHOD PATH [BODY]
	want=$1
	shift
	req "$@"
	[ "$code" = "$want" ] || fail "$1 $2 ${3:-}: status $code, wanted $want: $(head -c 300 body.json)"
}
# the JSON body's "error" is a non-empty string
is_error() {
	python3 -c 'import json,sys; e=json.load(open("body.json"))["error"]; assert isinstance(e,str) and e' ||
		fail "not an {\"error\": ...} body: $(head -c 300 body.json)"
}
healthy() {
	expect 200 GET /healthz
	python3 -c 'import json; assert json.load(open("body.json"))["status"] == "ok"' ||
		fail "/healthz: $(cat body.json)"
}

# ---- every curl example of docs/serve.md ---------------------------------------
# the lines starting with `curl` inside ```sh blocks
awk '/^```sh$/ { f = 1; next } /^```/ { f = 0 } f && /^curl / { print }' "$doc" \
	| sed "s|127\.0\.0\.1:8080|127.0.0.1:$port|g" >examples.txt
n=$(wc -l <examples.txt)
[ "$n" -ge 10 ] || fail "only $n curl examples found in docs/serve.md"
i=0
while IFS= read -r line; do
	i=$((i + 1))
	code=$(eval "$line -o ex$i.out -w '%{http_code}'") || fail "example $i: curl failed: $line"
	case "$code" in 2??) ;; *) fail "example $i answered $code: $line: $(head -c 300 "ex$i.out")" ;; esac
	case "$line" in
	*/metrics*) grep -q '^anthem_requests_total{' "ex$i.out" || fail "example $i: no metrics" ;;
	*) python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "error" not in d' \
		"ex$i.out" || fail "example $i: not a JSON answer: $line" ;;
	esac
done <examples.txt
ok "all $n curl examples of docs/serve.md answer 2xx with JSON"

# ---- what the answers hold ------------------------------------------------------
# GET and POST /search give what `anthem search --json` gives (same k, k1)
expect 200 GET '/search?q=robe&k=5&k1=50'
cp body.json get.json
"$anthem" search --model a1.anthem --index a1.index --k 5 --k1 50 --json robe >cli.json
expect 200 POST /search '{"queries": ["hat", "robe"], "k": 5, "k1": 50}'
cp body.json post.json
python3 - <<'PY' || fail "search answers differ from anthem search --json"
import json
cli = json.load(open("cli.json"))
get = json.load(open("get.json"))
post = json.load(open("post.json"))
assert get == cli, (get, cli)
assert [r["query"] for r in post["results"]] == ["hat", "robe"]
assert post["results"][1] == cli, post["results"][1]
for r in get["results"]:
    assert r["score"] == -r["distance"]
assert [r["rank"] for r in get["results"]] == [1, 2, 3, 4, 5]
PY
ok "GET and POST /search give anthem search --json's results"

# stage2_elements reaches the library: the CLI's --stage2-elements answers
expect 200 GET '/search?q=warm+winter+wool+hat&k=5&k1=50&stage2_elements=3'
cp body.json get3.json
expect 200 POST /search '{"queries": ["warm winter wool hat"], "k": 5, "k1": 50, "stage2_elements": 3}'
cp body.json post3.json
"$anthem" search --model a1.anthem --index a1.index --k 5 --k1 50 --json \
	--stage2-elements 3 'warm winter wool hat' >cli3.json
"$anthem" search --model a1.anthem --index a1.index --k 5 --k1 50 --json \
	'warm winter wool hat' >cliall.json
python3 - <<'PY' || fail "stage2_elements: the server's answers differ from anthem search --stage2-elements"
import json
cli3 = json.load(open("cli3.json"))
assert json.load(open("get3.json")) == cli3
assert json.load(open("post3.json"))["results"][0] == cli3
assert cli3 != json.load(open("cliall.json")), "3 elements change nothing"
PY
ok "stage2_elements on GET and POST /search gives anthem search --stage2-elements's results"

# a filter returns only its products, and names the unknown ones
expect 200 POST /search '{"queries": ["robe", "hat"], "k": 10, "filter": ["02666079", "02667093", "missing-1"]}'
python3 - <<'PY' || fail "filter: $(cat body.json)"
import json
d = json.load(open("body.json"))
assert d["unknown_ids"] == ["missing-1"]
for q in d["results"]:
    assert sorted(r["product_id"] for r in q["results"]) == ["02666079", "02667093"]
PY
ok "POST /search with a filter returns only its products, unknown ids reported"

# rerank: the known candidates, best first, unknown ids reported
expect 200 POST /rerank '{"query": "robe", "product_ids": ["02667093", "nope", "02666079", "02667093"]}'
python3 - <<'PY' || fail "rerank: $(cat body.json)"
import json
d = json.load(open("body.json"))
assert d["unknown_ids"] == ["nope"]
ids = [r["product_id"] for r in d["results"]]
assert sorted(ids) == ["02666079", "02667093"]
dist = [r["distance"] for r in d["results"]]
assert dist == sorted(dist)
PY
ok "POST /rerank ranks the known candidates once each and reports the unknown"

# explain by id equals explain by that product's title, rows sum to 1
expect 200 POST /explain '{"query": "robe", "product_id": "02667093"}'
cp body.json ex-id.json
title=$(python3 -c 'import json; print(json.load(open("ex-id.json"))["title"])')
expect 200 POST /explain "$(python3 -c 'import json,sys; print(json.dumps({"query": "robe", "title": sys.argv[1]}))' "$title")"
python3 - <<'PY' || fail "explain: $(head -c 300 body.json)"
import json
a = json.load(open("ex-id.json"))
b = json.load(open("body.json"))
for k in ("distance", "rows", "cols", "weights"):
    assert a[k] == b[k], k
assert len(a["weights"]) == len(a["rows"])
for row in a["weights"]:
    assert len(row) == len(a["cols"]) and abs(sum(row) - 1) < 1e-4
PY
ok "POST /explain by product_id equals by its title; rows sum to 1"

# ---- malformed, wrong and oversized requests: 4xx, then still healthy -----------
big=$(python3 -c 'print("x" * 2000)')
nine=$(python3 -c 'import json; print(json.dumps({"queries": ["q%d" % i for i in range(9)]}))')
while IFS='|' read -r want method path body; do
	expect "$want" "$method" "$path" "$body"
	is_error
done <<EOF
400|POST|/search|{"queries": 
400|POST|/search|[]
400|POST|/search|{"queries": ["robe"], "top_k": 3}
400|POST|/search|{"queries": "robe"}
400|POST|/search|{"queries": []}
400|POST|/search|{"queries": [3]}
400|POST|/search|{"queries": ["robe"], "k": 0}
400|POST|/search|{"queries": ["robe"], "k": 1001}
400|POST|/search|{"queries": ["robe"], "k": "3"}
400|POST|/search|{"queries": ["robe"], "k": 2.5}
400|POST|/search|{"queries": ["robe"], "k1": -1}
400|POST|/search|{"queries": ["robe"], "k1": 10001}
400|POST|/search|{"queries": ["robe"], "stage2_elements": -1}
400|GET|/search?q=robe&stage2_elements=x|
400|POST|/search|{"queries": ["a\u0000b"]}
400|POST|/search|{"queries": ["robe"], "queries": ["hat"]}
400|POST|/search|{"queries": [""]}
400|POST|/search|{"queries": ["$big"]}
400|POST|/search|$nine
400|POST|/search|{"queries": ["robe"], "filter": "02666079"}
400|POST|/search|{"queries": ["robe"], "and": [1]}
400|POST|/search?k=3|{"queries": ["robe"]}
400|GET|/search|
400|GET|/search?q=a&q=b|
400|GET|/search?q=a&k=abc|
400|GET|/search?q=a&k=-1|
400|GET|/search?q=a&zz=1|
400|GET|/search?q=$big|
400|GET|/search?q=|
400|POST|/rerank|{"query": "robe"}
400|POST|/rerank|{"query": "robe", "product_ids": [1]}
400|POST|/rerank|{"product_ids": ["02666079"]}
400|POST|/explain|{"query": "robe"}
400|POST|/explain|{"query": "robe", "title": "a", "product_id": "02666079"}
400|POST|/explain|{"query": 1, "title": "a"}
404|POST|/explain|{"query": "robe", "product_id": "no-such-product"}
400|GET|/healthz?verbose=1|
404|GET|/nope|
404|GET|/search/|
404|GET|/|
405|DELETE|/search|
405|GET|/rerank|
405|POST|/healthz|
405|PUT|/metrics|
EOF
# bytes that are not UTF-8, and a request without a body
printf '{"queries": ["\377\376"]}' >bad-utf8.json
code=$(curl -s -o body.json -w '%{http_code}' "$url/search" --data-binary @bad-utf8.json)
[ "$code" = 400 ] || fail "invalid UTF-8 answered $code"
expect 400 POST /search
# 405 names what the path answers
code=$(curl -s -D headers.txt -o body.json -w '%{http_code}' -X DELETE "$url/rerank")
grep -qi '^Allow: POST' headers.txt || fail "405 without Allow: POST"
# bodies over --max-body (1 MiB): with a length, and chunked
head -c 2000000 /dev/zero | tr '\0' ' ' >big.body
code=$(curl -s -o body.json -w '%{http_code}' "$url/search" --data-binary @big.body)
[ "$code" = 413 ] || fail "2 MB body answered $code"
code=$(curl -s -o body.json -w '%{http_code}' -H 'Transfer-Encoding: chunked' "$url/search" --data-binary @big.body)
[ "$code" = 413 ] || fail "2 MB chunked body answered $code"
# a URL longer than libmicrohttpd's buffer: refused by it
long=$(python3 -c 'print("a" * 100000)')
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/search?q=$long")
case "$code" in 4??) ;; *) fail "100 kB URL answered $code" ;; esac
# garbage on a raw socket, then a half request: the server stays up
python3 - "$port" <<'PY' || fail "raw socket garbage"
import socket, sys
for data in (b"\x00\xff garbage\r\n\r\n", b"GET /search?q=robe HTTP/1.1\r\nHost: x\r\n"):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(data)
    s.close()
PY
healthy
kill -0 "$pid" || fail "the server died"
ok "malformed, wrong and oversized requests each answered 4xx; still healthy"

# ---- reload during a stream of requests ----------------------------------------
gen() { expect 200 GET /healthz; python3 -c 'import json; print(json.load(open("body.json"))["generation"])'; }
fpr() { expect 200 GET /healthz; python3 -c 'import json; print(json.load(open("body.json"))["model_fingerprint"])'; }
fp1=$(fpr)
g0=$(gen)
# the stream: requests one after another on their own connections, every
# answer that is not 200 counted
(
	n=0 bad=0
	while [ ! -f stop ]; do
		c=$(curl -s -o /dev/null -w '%{http_code}' "$url/search?q=robe&k=3") || c="curl-failed"
		[ "$c" = 200 ] || bad=$((bad + 1))
		c=$(curl -s -o /dev/null -w '%{http_code}' "$url/rerank" -d '{"query": "hat", "product_ids": ["02666079", "02667093"]}') || c="curl-failed"
		[ "$c" = 200 ] || bad=$((bad + 1))
		n=$((n + 2))
	done
	echo "$n $bad" >stream.txt
) &
stream=$!
sleep 1
# replace the pair by rename (model first, then index), then reload:
# alternately by SIGHUP and by POST /admin/reload
rounds=6
for r in $(seq 1 $rounds); do
	s=$((r % 2 + 1))
	cp "a$s.anthem" model.new
	cp "a$s.index" index.new
	mv model.new model.anthem
	mv index.new index.anthem
	if [ $((r % 2)) = 1 ]; then
		kill -HUP "$pid"
		want=$((g0 + r))
		for _ in $(seq 1 300); do
			[ "$(gen)" = "$want" ] && break
			sleep 0.1
		done
		[ "$(gen)" = "$want" ] || fail "SIGHUP reload $r: generation $(gen), wanted $want"
	else
		expect 200 POST /admin/reload
		python3 -c 'import json,sys; assert json.load(open("body.json"))["generation"] == int(sys.argv[1])' \
			$((g0 + r)) || fail "reload $r: $(cat body.json)"
	fi
	sleep 0.3
done
touch stop
wait "$stream"
read -r total failed <stream.txt
[ "$failed" = 0 ] || fail "$failed of $total requests failed during the reloads"
[ "$total" -ge 12 ] || fail "only $total requests in the stream"
fp2=$(fpr)
# round 6 put model 1 back: its fingerprint; round 5 served model 2
[ "$fp2" = "$fp1" ] || fail "fingerprint $fp2 after putting model 1 back (was $fp1)"
ok "$rounds reloads (SIGHUP and POST /admin/reload) during $total requests: none failed"

# one reload to model 2 must change the fingerprint
cp a2.anthem model.new && cp a2.index index.new && mv model.new model.anthem && mv index.new index.anthem
expect 200 POST /admin/reload
[ "$(fpr)" != "$fp1" ] || fail "the fingerprint did not change with model 2"
fp2=$(fpr)
g1=$(gen)

# ---- a failed reload keeps the old pair ---------------------------------------------
metric() { curl -s "$url/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# a truncated model
head -c 1000 a1.anthem >model.new && mv model.new model.anthem
expect 500 POST /admin/reload
is_error
# the model of seed 1 with the index of seed 2: a mismatched pair
cp a1.anthem model.new && mv model.new model.anthem
expect 500 POST /admin/reload
grep -qi 'model' body.json || fail "mismatch reload error: $(cat body.json)"
kill -HUP "$pid"
for _ in $(seq 1 100); do
	[ "$(metric anthem_reload_failures_total)" = 3 ] && break
	sleep 0.1
done
[ "$(metric anthem_reload_failures_total)" = 3 ] || fail "anthem_reload_failures_total is $(metric anthem_reload_failures_total), wanted 3"
curl -s "$url/metrics" | grep -q '^anthem_reload_last_failed{error=".*"} 1$' ||
	fail "no anthem_reload_last_failed{error} 1"
grep -q 'reload (SIGHUP) FAILED' server.log || fail "no failed reload in the log"
[ "$(gen)" = "$g1" ] || fail "a failed reload changed the generation"
[ "$(fpr)" = "$fp2" ] || fail "a failed reload changed the model"
expect 200 GET '/search?q=robe'
# a good pair again
cp a2.anthem model.new && mv model.new model.anthem
expect 200 POST /admin/reload
[ "$(metric anthem_reload_last_failed)" = 0 ] || fail "anthem_reload_last_failed not 0 after a good reload"
ok "3 failed reloads (truncated model, mismatched pair) kept the old pair and showed in /metrics"

# ---- /metrics --------------------------------------------------------------------
curl -s "$url/metrics" >metrics.txt
python3 - <<'PY' || fail "metrics: $(head -c 2000 metrics.txt)"
import re
m = {}
for line in open("metrics.txt"):
    if line.startswith("#"):
        continue
    name, value = line.rsplit(" ", 1)
    m[name] = float(value)
assert m['anthem_requests_total{path="/search",status="400"}'] >= 25
assert m['anthem_requests_total{path="/search",status="413"}'] == 2
assert m['anthem_requests_total{path="/rerank",status="405"}'] >= 1
assert m['anthem_requests_total{path="other",status="404"}'] >= 2
assert m["anthem_request_errors_total"] >= 45
count = m["anthem_request_duration_seconds_count"]
assert m['anthem_request_duration_seconds_bucket{le="+Inf"}'] == count
assert count == sum(v for k, v in m.items() if k.startswith("anthem_requests_total{"))
assert m["anthem_request_duration_seconds_sum"] > 0
assert m["anthem_index_products"] == 561
assert any(k.startswith('anthem_model_info{fingerprint="') for k in m)
assert m["anthem_reloads_total"] >= 8
PY
ok "/metrics counts requests by path and status, the latency histogram and reloads"

# ---- the request log and --quiet -----------------------------------------------------
grep -Eq '^GET /search 200 [0-9]+ us$' server.log || fail "no request line in the log"
grep -Eq '^POST /search 413 [0-9]+ us$' server.log || fail "no 413 line in the log"

# ---- SIGTERM drains --------------------------------------------------------------------
# a request in flight (headers and half its body sent) when SIGTERM comes:
# the server stops accepting, still answers it 200, then exits 0
python3 - "$port" <<'PY' >drain.txt 2>&1 &
import os, socket, sys, time
body = b'{"queries": ["robe"], "k": 3}'
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
s.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:10])
open("half-sent", "w").close()
while not os.path.exists("go"):
    time.sleep(0.05)
s.sendall(body[10:])
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
print(data.split(b"\r\n")[0].decode())
PY
drain=$!
for _ in $(seq 1 600); do [ -f half-sent ] && break; sleep 0.1; done
[ -f half-sent ] || fail "the draining client did not start: $(cat drain.txt)"
sleep 1
kill -TERM "$pid"
for _ in $(seq 1 300); do grep -q '^anthem serve: stopping' server.log && break; sleep 0.1; done
grep -q '^anthem serve: stopping, 1 requests in flight' server.log ||
	fail "SIGTERM: not 1 request in flight: $(grep stopping server.log)"
kill -0 "$pid" || fail "the server exited with a request in flight"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/healthz") || true
[ "$code" = 000 ] || fail "a new connection answered $code while draining"
touch go
wait "$drain" || fail "the draining client: $(cat drain.txt)"
grep -q '^HTTP/1.1 200' drain.txt || fail "the request in flight at SIGTERM got: $(cat drain.txt)"
status=0
wait "$pid" || status=$?
pid=""
[ "$status" = 0 ] || fail "the server exited $status after SIGTERM"
grep -q '^anthem serve: stopped$' server.log || fail "no 'stopped' line"
ok "SIGTERM: no new connection, the request in flight answered 200, exit 0"

# ---- options -----------------------------------------------------------------------------
"$anthem" serve --help | grep -q -- '--max-body' || fail "serve --help"
st=0; "$anthem" serve --model a1.anthem 2>/dev/null || st=$?
[ "$st" = 2 ] || fail "serve without --index exited $st, wanted 2"
st=0; "$anthem" serve --model a1.anthem --index a1.index --listen nowhere 2>/dev/null || st=$?
[ "$st" = 2 ] || fail "a bad --listen exited $st, wanted 2"
st=0; "$anthem" serve --model a1.anthem --index a2.index --listen 127.0.0.1:0 2>err.txt || st=$?
[ "$st" = 1 ] || fail "a mismatched pair at start exited $st, wanted 1"
# --quiet: no request lines
: >quiet.log
"$anthem" serve --model a1.anthem --index a1.index --listen 127.0.0.1:0 --quiet \
	--search-timeout 1 2>quiet.log &
pid=$!
port=""
for _ in $(seq 1 300); do
	port=$(sed -n 's/^anthem serve: listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' quiet.log)
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || fail "--quiet server did not start"
curl -s "http://127.0.0.1:$port/healthz" >/dev/null
# --search-timeout 1: eight queries of stage 2 take longer than 1 ms, so
# the library stops the batch and the answer is 503 with an error body
code=$(curl -s -o body.json -w '%{http_code}' -X POST "http://127.0.0.1:$port/search" \
	--data-binary '{"queries": ["hat", "dog", "cat", "tree", "boat", "car", "cup", "pen"], "k1": 500}')
[ "$code" = 503 ] || fail "--search-timeout 1: a batch of 8 answered $code: $(head -c 300 body.json)"
is_error
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")
[ "$code" = 200 ] || fail "after a timed-out search /healthz answered $code"
kill -TERM "$pid"
wait "$pid" || fail "--quiet server exit"
pid=""
! grep -q '^GET ' quiet.log || fail "--quiet still logs requests"
ok "options: --help, required paths, --listen, a mismatched pair, --quiet, --search-timeout (503)"
