#!/usr/bin/env bash
# wiremeter --pcap on every shared capture reports the packet and byte totals capinfos reports
# (bytes: captured frame bytes, the same accounting as capinfos' "Data size").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2 captures=$3
need_root
need_cmd capinfos jq
[ -d "$captures" ] || skip "no shared captures at $captures"
n=0
while IFS= read -r f; do
  report=$("$wiremeter" --pcap "$f" --report json --plugin-dir "$plugin_dir" 2>/dev/null) ||
    fail "wiremeter --pcap $f failed"
  packets=$(jq .totals.packets <<<"$report")
  bytes=$(jq .totals.bytes <<<"$report")
  want_packets=$(capinfos -M -c "$f" | awk -F': *' '/Number of packets/ {print $2}')
  want_bytes=$(capinfos -M -d "$f" | awk -F': *' '/Data size/ {print $2}' | awk '{print $1}')
  [ "$packets" = "$want_packets" ] || fail "$f: packets $packets, capinfos says $want_packets"
  [ "$bytes" = "$want_bytes" ] || fail "$f: bytes $bytes, capinfos says $want_bytes"
  # The port plugin saw every packet too.
  port_packets=$(jq '.plugins.port.ports[0].rx_packets' <<<"$report")
  [ "$port_packets" = "$packets" ] || fail "$f: port plugin counted $port_packets of $packets"
  echo "ok: $(basename "$f"): $packets packets, $bytes bytes"
  n=$((n + 1))
done < <(find "$captures" -name '*.pcap' | sort)
[ "$n" -gt 0 ] || skip "no captures found in $captures"
echo "PASS ($n captures)"
