#!/usr/bin/env bash
# A plugin directory holding good and bad plugins: the bad ones are refused with one line each,
# wiremeter keeps running with the good ones, and /api/v1/plugins lists both kinds.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2 test_plugins=$3 data_dir=$4
need_root
need_cmd curl jq
tmp=$(mktemp -d)
wm_pid=
trap '[ -n "$wm_pid" ] && kill "$wm_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
mkdir "$tmp/plugins"
cp "$plugin_dir"/*.so "$test_plugins"/*.so "$tmp/plugins/"

port=$(free_port)
base=http://127.0.0.1:$port
"$wiremeter" --config "$tmp/config.json" --plugin-dir "$tmp/plugins" --data-dir "$data_dir" \
  --listen "127.0.0.1:$port" >"$tmp/wm.log" 2>&1 &
wm_pid=$!
wait_http "$base/api/v1/system" 20 || { cat "$tmp/wm.log"; fail "wiremeter did not start"; }
jar=$tmp/cookies
login_admin "$base" "$jar"
plugins=$(api "$jar" GET "$base/api/v1/plugins")
loaded=$(jq -r '[.loaded[].name] | sort | join(",")' <<<"$plugins")
for want in abi10 good port; do
  jq -e --arg n "$want" '[.loaded[].name] | index($n)' <<<"$plugins" >/dev/null ||
    fail "$want not loaded (loaded: $loaded)"
done
refused=$(jq '.refused | length' <<<"$plugins")
[ "$refused" = 4 ] || fail "expected 4 refused plugins: $(jq -c .refused <<<"$plugins")"
for want in "ABI major 2 is not supported" "descriptor struct is 24 bytes" \
  "missing registration symbol" "not a shared object"; do
  jq -e --arg w "$want" '[.refused[].reason | contains($w)] | any' <<<"$plugins" >/dev/null ||
    fail "no refusal says '$want'"
done
jq -r '.refused[] | "ok: refused \(.path | split("/") | last): \(.reason)"' <<<"$plugins"
# Each refusal was logged as one line.
[ "$(grep -c 'plugin refused' "$tmp/wm.log")" = 4 ] || fail "refusals not logged once each"
metrics=$(curl -sf "$base/metrics")
grep -q '^wiremeter_plugins_refused 4' <<<"$metrics" || fail "metric does not count refusals"
sleep 1
rx=$(api "$jar" GET "$base/api/v1/ports" | jq '.ports[0].stats.rx_packets')
[ "$rx" -gt 0 ] || fail "no traffic analyzed with bad plugins around"
echo "ok: still analyzing ($rx packets)"
echo "PASS"
