#!/usr/bin/env bash
# Two hosts in network namespaces, connected only through wiremeter in bridge mode on
# net_af_packet over veth pairs:
#
#   [ns h1] eth0 --veth-- wmA <wiremeter> wmB --veth-- eth0 [ns h2]
#   198.18.1.1/24                                       198.18.1.2/24
#
# Checks that ping and a TCP transfer pass, that the per-port counters in REST equal what the
# hosts sent, and that switching the pair to sink over REST stops forwarding without a restart.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2 workers=${3:-1}
need_root
need_cmd ip jq curl nc ping ethtool sha256sum python3

id=$$
h1=wm-h1-$id h2=wm-h2-$id a=wmA$id b=wmB$id
tmp=$(mktemp -d)
wm_pid=
cleanup() {
  [ -n "$wm_pid" ] && kill "$wm_pid" 2>/dev/null && wait "$wm_pid" 2>/dev/null || true
  ip netns del "$h1" 2>/dev/null || true
  ip netns del "$h2" 2>/dev/null || true
  ip link del "$a" 2>/dev/null || true
  ip link del "$b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

ip netns add "$h1"
ip netns add "$h2"
ip link add "$a" type veth peer name eth0 netns "$h1"
ip link add "$b" type veth peer name eth0 netns "$h2"
for ns in "$h1" "$h2"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
i=1
for ns in "$h1" "$h2"; do
  ip netns exec "$ns" ip addr add "198.18.1.$i/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up
  ip netns exec "$ns" ip link set lo up
  # A software bridge sees frames as they are on the wire: no offloaded checksums or
  # segmentation, which an af_packet socket would otherwise hand over unfinished.
  ip netns exec "$ns" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  i=$((i + 1))
done
for dev in "$a" "$b"; do
  sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
  ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip link set "$dev" up
done

port=$(free_port)
base=http://127.0.0.1:$port
cat >"$tmp/config.json" <<JSON
{
  "eal": {"memory_mb": 256},
  "ports": [
    {"name": "a", "devargs": "net_af_packet_a$id,iface=$a,qpairs=$workers"},
    {"name": "b", "devargs": "net_af_packet_b$id,iface=$b,qpairs=$workers"}
  ],
  "workers": $workers,
  "link": {"mode": "bridge", "pairs": [{"name": "p0", "ports": ["a", "b"], "mode": "bridge"}]},
  "http": {"listen": "127.0.0.1:$port"}
}
JSON
"$wiremeter" --config "$tmp/config.json" --plugin-dir "$plugin_dir" >"$tmp/wm.log" 2>&1 &
wm_pid=$!
wait_http "$base/api/v1/system" 20 || { cat "$tmp/wm.log"; fail "wiremeter did not start"; }
jar=$tmp/cookies
login_admin "$base" "$jar"

# Before any traffic, the counters of the host interfaces and ours start from here.
stat() { ip netns exec "$1" cat "/sys/class/net/eth0/statistics/$2"; }

ip netns exec "$h1" ping -c 5 -i 0.2 -W 2 198.18.1.2 >/dev/null || { cat "$tmp/wm.log"; fail "ping through the bridge failed"; }
echo "ok: ping through the bridge"

head -c 3000000 /dev/urandom >"$tmp/send"
ip netns exec "$h2" nc -l -N 198.18.1.2 5001 >"$tmp/recv" &
nc_pid=$!
sleep 0.5
ip netns exec "$h1" nc -N 198.18.1.2 5001 <"$tmp/send" || fail "TCP transfer failed"
wait "$nc_pid" || true
[ "$(sha256sum <"$tmp/send")" = "$(sha256sum <"$tmp/recv")" ] || fail "TCP transfer corrupted"
echo "ok: 3 MB TCP transfer, identical"
# Eight short connections more, so that flows spread over the workers.
for i in $(seq 1 8); do
  ip netns exec "$h2" nc -l -N 198.18.1.2 $((5100 + i)) >/dev/null &
  sleep 0.2
  echo "hello $i" | ip netns exec "$h1" nc -N 198.18.1.2 $((5100 + i)) || fail "connection $i failed"
  wait $! || true
done

sleep 1  # let the last frames drain
ports=$(api "$jar" GET "$base/api/v1/ports")
rx_a=$(jq '.ports[] | select(.name=="a") | .stats.rx_packets' <<<"$ports")
rx_b=$(jq '.ports[] | select(.name=="b") | .stats.rx_packets' <<<"$ports")
tx_a=$(jq '.ports[] | select(.name=="a") | .stats.tx_packets' <<<"$ports")
tx_b=$(jq '.ports[] | select(.name=="b") | .stats.tx_packets' <<<"$ports")
rxb_a=$(jq '.ports[] | select(.name=="a") | .stats.rx_bytes' <<<"$ports")
sent_h1=$(stat "$h1" tx_packets) sent_h2=$(stat "$h2" tx_packets)
sentb_h1=$(stat "$h1" tx_bytes)
echo "h1 sent $sent_h1, port a rx $rx_a, port b tx $tx_b; h2 sent $sent_h2, port b rx $rx_b, port a tx $tx_a"
[ "$rx_a" = "$sent_h1" ] || fail "port a rx_packets $rx_a != h1 tx_packets $sent_h1"
[ "$rx_b" = "$sent_h2" ] || fail "port b rx_packets $rx_b != h2 tx_packets $sent_h2"
[ "$tx_b" = "$rx_a" ] || fail "port b tx_packets $tx_b != port a rx_packets $rx_a"
[ "$tx_a" = "$rx_b" ] || fail "port a tx_packets $tx_a != port b rx_packets $rx_b"
[ "$rxb_a" = "$sentb_h1" ] || fail "port a rx_bytes $rxb_a != h1 tx_bytes $sentb_h1"
echo "ok: REST counters equal what the hosts sent"

# Both directions of each flow met on one worker: one flow for the pings, one per connection.
stats=$(api "$jar" GET "$base/api/v1/stats")
created=$(jq .flows.created <<<"$stats")
[ "$created" = 10 ] || fail "expected 10 flows (ICMP echo, 9 TCP) across $workers worker(s), got $created: $(jq -c .workers <<<"$stats")"
echo "ok: $created flows over $workers worker(s): $(jq -c '[.workers[] | .flows_active]' <<<"$stats")"

# Frames wiremeter cannot decode, or that carry stacked VLAN tags, cross the bridge unchanged.
ip netns exec "$h2" python3 "$here/raw_frames.py" recv eth0 3 "$tmp/received" &
recv_pid=$!
sleep 1
ip netns exec "$h1" python3 "$here/raw_frames.py" send eth0 >"$tmp/sent"
wait "$recv_pid"
while read -r frame; do
  grep -qx "$frame" "$tmp/received" || fail "frame not forwarded unchanged: $frame"
done <"$tmp/sent"
bad=$(api "$jar" GET "$base/api/v1/stats" | jq .decode_errors.bad_ipv4_header)
[ "$bad" -ge 1 ] || fail "the malformed IPv4 frame was not counted"
echo "ok: undecodable, malformed, VLAN-stacked and MPLS frames forwarded byte for byte ($bad counted malformed)"

api "$jar" PUT "$base/api/v1/link-modes" '{"mode":"sink"}' | jq -e '.pairs[0].effective_mode == "sink"' >/dev/null ||
  fail "switching to sink failed"
if ip netns exec "$h1" ping -c 3 -i 0.2 -W 1 198.18.1.2 >/dev/null 2>&1; then
  fail "ping still passes in sink mode"
fi
echo "ok: sink mode stops forwarding"
api "$jar" PUT "$base/api/v1/link-modes" '{"mode":"bridge"}' >/dev/null || fail "switching back failed"
ip netns exec "$h1" ping -c 3 -i 0.2 -W 2 198.18.1.2 >/dev/null || fail "ping fails after switching back to bridge"
echo "ok: bridge mode restored without a restart"

# Mixed: the pair's own mode applies.
api "$jar" PUT "$base/api/v1/link-modes" '{"mode":"mixed","pairs":{"p0":"sink"}}' >/dev/null
if ip netns exec "$h1" ping -c 2 -i 0.2 -W 1 198.18.1.2 >/dev/null 2>&1; then
  fail "ping passes with the pair in sink mode"
fi
api "$jar" PUT "$base/api/v1/link-modes" '{"mode":"mixed","pairs":{"p0":"bridge"}}' >/dev/null
ip netns exec "$h1" ping -c 2 -i 0.2 -W 2 198.18.1.2 >/dev/null || fail "ping fails with the pair in bridge mode"
echo "ok: mixed mode follows the pair's own mode"

# Bad requests are refused with a reason and change nothing.
bad() {
  curl -s -o "$tmp/resp" -w '%{http_code}' -b "$jar" -X PUT -H 'Content-Type: application/json' \
    -d "$1" "$base/api/v1/link-modes"
}
[ "$(bad '{"mode":"bridged"}')" = 400 ] && grep -q 'link.mode: must be' "$tmp/resp" ||
  fail "bad mode not refused: $(cat "$tmp/resp")"
[ "$(bad '{"mode":"sink","pairs":{"nope":"sink"}}')" = 400 ] && grep -q 'pairs.nope: no such pair' "$tmp/resp" ||
  fail "unknown pair not refused: $(cat "$tmp/resp")"
[ "$(bad '{"mode":')" = 400 ] || fail "broken JSON not refused"
api "$jar" GET "$base/api/v1/link-modes" | jq -e '.mode == "mixed"' >/dev/null || fail "a refused request changed the mode"
echo "ok: bad link-mode requests refused without side effects"
api "$jar" PUT "$base/api/v1/link-modes" '{"mode":"bridge"}' >/dev/null
jq -e '.link.mode == "bridge"' "$tmp/config.json" >/dev/null || fail "link mode not persisted"
kill -0 "$wm_pid" || fail "wiremeter died"
echo "PASS"
