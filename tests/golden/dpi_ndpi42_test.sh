#!/usr/bin/env bash
# Golden test of the dpi plugin against nDPI 4.2's published results.
#
# For every ndpi/*.pcap in the shared captures that has a .ndpi42.out beside it (ndpiReader 4.2
# output in the nDPI test-suite format), runs `wiremeter --pcap` with the dpi plugin and the
# five files ndpiReader was given (-p -c -r -j -S), and compares the protocol label of every
# flow, matched by 5-tuple in either direction and VLAN. ICMP flows are matched without ports:
# ndpiReader gives them port 0, the core uses the echo identifier.
#
# Prints the agreement per capture. Passes when the flows that differ are exactly those listed in
# the known-differences file (one line per flow, with the reason), so that a new difference
# fails, and so does a fixed one until it is removed from the list.
#
# Usage: dpi_ndpi42_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
# Exits 77 (skipped) without the shared captures or without root (DPDK needs it).
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3 known=$4

# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"

[ -d "$captures/ndpi" ] || skip "no shared captures at $captures/ndpi"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
need_cmd python3
[ -f "$known" ] || fail "missing known-differences file $known"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(cd "$captures/ndpi" && pwd)
# ndpiReader never expires flows while reading a file, so neither may we: the longest timeouts
# the config allows keep a quiet 5-tuple from becoming two flows.
cat >"$work/config.json" <<EOF
{
  "flows": {"tcp_timeout_s": 86400, "udp_timeout_s": 86400, "other_timeout_s": 86400},
  "plugins": {"dpi": {
    "protos_file": "$dir/protos.txt",
    "categories_file": "$dir/categories.txt",
    "risky_domains_file": "$dir/risky_domains.txt",
    "ja3_file": "$dir/ja3_fingerprints.csv",
    "sha1_file": "$dir/sha1_fingerprints.csv"
  }}
}
EOF

n=0
for pcap in "$dir"/*.pcap; do
  [ -f "$pcap.ndpi42.out" ] || continue
  name=$(basename "$pcap")
  "$wiremeter" --pcap "$pcap" --report json --plugin-dir "$plugin_dir" \
    --config "$work/config.json" >"$work/$name.json" 2>"$work/$name.log" ||
    { cat "$work/$name.log" >&2; fail "wiremeter --pcap $name failed"; }
  n=$((n + 1))
done
[ "$n" -gt 0 ] || skip "no ndpi/*.pcap with a .ndpi42.out in $dir"

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" <<'PY'
import ipaddress, json, os, re, sys
import golden_lib

captures, work, known_file = sys.argv[1:4]
# ndpiReader names these IP protocols; any other is printed as its number.
PROTO = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "IGMP": 2, "VRRP": 112}
ICMP = {1, 58}
# "\t1\tTCP 10.0.0.1:443 <-> [2001:db8::1]:1234 [VLAN: 5][proto: 91.126/TLS.Google][..."
FLOW = re.compile(r"^\t\d+\t(\S+) (\S+) (?:<->|->) (\S+) "
                  r"(?:\[VLAN: (\d+)\])?\[proto: [^/\]]*/([^\]]+)\]")

def endpoint(text):
    # "1.2.3.4:80" or "[2001:db8::1]:80"
    host, port = text.rsplit(":", 1)
    return str(ipaddress.ip_address(host.strip("[]"))), int(port)

def key(proto, vlan, a, b):
    # "proto/vlan/lower endpoint-higher endpoint", the same whichever side spoke first.
    if proto in ICMP:
        a, b = (a[0], 0), (b[0], 0)
    lo, hi = sorted([a, b])
    text = lambda e: f"[{e[0]}]:{e[1]}" if ":" in e[0] else f"{e[0]}:{e[1]}"
    return f"{proto}/{vlan}/{text(lo)}-{text(hi)}"

def expected_flows(path):
    flows = {}
    with open(path) as f:
        for line in f:
            m = FLOW.match(line)
            if not m:
                continue
            name, a, b, vlan, label = m.groups()
            proto = PROTO[name] if name in PROTO else int(name)
            flows[key(proto, int(vlan or 0), endpoint(a), endpoint(b))] = label
    return flows

def our_flows(path):
    with open(path) as f:
        report = json.load(f)
    flows = {}
    for fl in report["plugins"]["dpi"]["flows"]:
        client = (str(ipaddress.ip_address(fl["client"])), fl["client_port"])
        server = (str(ipaddress.ip_address(fl["server"])), fl["server_port"])
        k = key(fl["proto"], fl["vlan"], client, server)
        flows.setdefault(k, []).append(fl["protocol"])
    return flows, report["plugins"]["dpi"]["flows_dropped"]

found = {}
total_expected = total_agree = 0
print(f"{'capture':28} {'flows':>6} {'agree':>6} {'label':>6} {'missing':>7} {'extra':>6}"
      "  agreement")
for name in sorted(os.listdir(captures)):
    out = os.path.join(captures, name + ".ndpi42.out")
    if not name.endswith(".pcap") or not os.path.exists(out):
        continue
    want = expected_flows(out)
    have, dropped = our_flows(os.path.join(work, name + ".json"))
    if dropped:
        sys.exit(f"FAIL: {name}: {dropped} ended flows were dropped from the report")
    agree = label = missing = 0
    for k, label_want in want.items():
        got = have.get(k)
        if got is None:
            missing += 1
            found[(name, k)] = (label_want, "-")
        elif all(g == label_want for g in got):
            agree += 1
        else:
            label += 1
            found[(name, k)] = (label_want, ",".join(got))
    extra = 0
    for k, got in have.items():
        if k not in want:
            extra += 1
            found[(name, k)] = ("-", ",".join(got))
    total_expected += len(want)
    total_agree += agree
    pct = 100.0 * agree / len(want) if want else 100.0
    print(f"{name:28} {len(want):6} {agree:6} {label:6} {missing:7} {extra:6}  {pct:6.2f}%")
print(f"{'total':28} {total_expected:6} {total_agree:6}{'':29}"
      f"{100.0 * total_agree / max(total_expected, 1):6.2f}%")

# Known differences: capture, flow key, expected label, ours, reason.
golden_lib.check_known_values(found, known_file, 2, 2)
print(f"PASS ({len(found)} known differences)")
PY
