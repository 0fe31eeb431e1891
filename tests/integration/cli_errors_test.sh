#!/usr/bin/env bash
# Bad input gets one clear line and a non-zero exit: never a usage dump, a stack trace, a crash
# or a half-written file.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2
need_root
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# expect_error EXPECTED_TEXT CMD...: non-zero exit, exactly one error line containing the text.
expect_error() {
  local want=$1
  shift
  local rc=0
  "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
  [ "$rc" -ne 0 ] || fail "exit 0 for: $*"
  [ "$rc" -lt 128 ] || fail "killed by signal $((rc - 128)) for: $*"
  local errors
  errors=$(grep -cE '(^wiremeter: | error )' "$tmp/err" || true)
  [ "$errors" = 1 ] || { cat "$tmp/err"; fail "expected one error line, got $errors for: $*"; }
  grep -q -- "$want" "$tmp/err" || { cat "$tmp/err"; fail "error does not say '$want' for: $*"; }
  ! grep -qE 'terminate called|Segmentation|Usage:|EAL common options' "$tmp/err" "$tmp/out" ||
    fail "noise in the output for: $*"
  echo "ok: $(grep -E '(^wiremeter: | error )' "$tmp/err" | sed 's/^.*Z error /error: /')"
}

wm() { "$wiremeter" --plugin-dir "$plugin_dir" "$@"; }
expect_error "unrecognised option '--frobnicate'" wm --frobnicate
expect_error "cannot read capture $tmp/none.pcap" wm --pcap "$tmp/none.pcap"

printf '{\n  "workers": 2,\n  "ports": [\n}\n' >"$tmp/bad.json"
expect_error "bad.json: line 4" wm --config "$tmp/bad.json"
echo '{"workers": "many"}' >"$tmp/field.json"
expect_error "workers: expected a whole number" wm --config "$tmp/field.json"
echo '{"ports": [{"name": "x", "devargs": "net_af_packet0,iface=nope0"}]}' >"$tmp/noif.json"
expect_error 'network interface "nope0" does not exist' wm --config "$tmp/noif.json" --listen 127.0.0.1:0
mkdir "$tmp/dir.json"
expect_error "cannot read $tmp/dir.json" wm --config "$tmp/dir.json"
cat >"$tmp/twice.json" <<JSON
{"ports": [{"name": "a", "devargs": "net_af_packet0,iface=lo"},
           {"name": "b", "devargs": "net_af_packet0,iface=lo"}]}
JSON
expect_error 'device "net_af_packet0" is already used by another port' wm --config "$tmp/twice.json"
echo '{"ports": [{"name": "p", "devargs": "net_pcap0,rx_pcap=/nonexistent.pcap"}]}' >"$tmp/nopcap.json"
expect_error "cannot read capture file /nonexistent.pcap" wm --config "$tmp/nopcap.json"
echo '{"ports": [{"name": "q", "devargs": "net_af_packet9,iface=lo,qpairs=2"}]}' >"$tmp/qpairs.json"
expect_error "port q: qpairs=2 but only 1 queue(s) are polled" wm --config "$tmp/qpairs.json"
expect_error "DPDK EAL initialization failed" wm --config "$tmp/absent.json" --eal=--no-such-eal-option

# The web port is taken by another program.
port=$(free_port)
nc -l 127.0.0.1 "$port" >/dev/null 2>&1 &
sleep 0.3
expect_error "http: cannot listen on 127.0.0.1:$port" wm --config "$tmp/absent.json" --listen "127.0.0.1:$port"

# None of the failed starts wrote a config file.
[ ! -e "$tmp/absent.json" ] || fail "a failed start wrote the config"
ls "$tmp" | grep -q '\.tmp\.' && fail "temp files left behind"
echo "PASS"
