#!/usr/bin/env bash
# /metrics is valid Prometheus text (promtool check metrics), carries the port plugin's
# families, and a real Prometheus server scrapes it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2 data_dir=$3
need_root
need_cmd promtool prometheus curl jq
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

port=$(free_port)
"$wiremeter" --config "$tmp/config.json" --plugin-dir "$plugin_dir" --data-dir "$data_dir" \
  --listen "127.0.0.1:$port" >"$tmp/wm.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/metrics" 20 || { cat "$tmp/wm.log"; fail "wiremeter did not start"; }
sleep 2
curl -sf "http://127.0.0.1:$port/metrics" >"$tmp/metrics.txt"
promtool check metrics <"$tmp/metrics.txt" || fail "promtool rejected /metrics"
for family in wiremeter_packets_total wiremeter_port_rx_packets_total \
  wiremeter_port_frame_size_bytes_bucket wiremeter_decode_errors_total wiremeter_flows_active; do
  grep -q "^$family" "$tmp/metrics.txt" || fail "missing family $family"
done
rx=$(awk '/^wiremeter_port_rx_packets_total\{port="demo0"\}/ {print $2}' "$tmp/metrics.txt")
[ "${rx%.*}" -gt 0 ] 2>/dev/null || fail "demo port counted no packets ($rx)"
echo "ok: promtool check metrics passes; demo0 rx $rx packets"

# The same numbers as history for the graphs, at 1 s resolution.
jar=$tmp/cookies
login_admin "http://127.0.0.1:$port" "$jar"
hist=$(api "$jar" GET "http://127.0.0.1:$port/api/v1/history?series=port.demo0.rx_bps&from=-60")
jq -e '.step_s == 1 and (.points | length) >= 1 and (.points | map(.[1]) | max) > 0' <<<"$hist" \
  >/dev/null || fail "no rx_bps history: $hist"
api "$jar" GET "http://127.0.0.1:$port/api/v1/history" | jq -e '.series | index("totals.bps")' \
  >/dev/null || fail "totals.bps not listed"
echo "ok: history has $(jq '.points | length' <<<"$hist") points of port.demo0.rx_bps"

# A real Prometheus scrapes us.
pport=$(free_port)
cat >"$tmp/prometheus.yml" <<YML
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: wiremeter
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YML
promtool check config "$tmp/prometheus.yml" >/dev/null || fail "bad prometheus config"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do
  v=$(curl -s "http://127.0.0.1:$pport/api/v1/query?query=wiremeter_port_rx_packets_total" |
    jq -r '.data.result[0].value[1] // empty' 2>/dev/null || true)
  [ -n "$v" ] && break
  sleep 0.5
done
[ -n "${v:-}" ] || { tail -5 "$tmp/prom.log"; fail "Prometheus did not scrape wiremeter"; }
up=$(curl -s "http://127.0.0.1:$pport/api/v1/query?query=up" | jq -r '.data.result[0].value[1]')
[ "$up" = 1 ] || fail "Prometheus reports the target down"
echo "ok: Prometheus scraped wiremeter_port_rx_packets_total=$v"
echo "PASS"
