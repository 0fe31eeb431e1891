#!/usr/bin/env bash
# Golden test of the ip plugin against published and independently computed results.
#
# - Every capture under the shared captures: per host, packets and frame bytes sent and received
#   against tshark's endpoint statistics, computed here (`tshark -r F -q -z endpoints,ip
#   -z endpoints,ipv6`: Packets, Bytes, Tx Packets, Tx Bytes, Rx Packets, Rx Bytes per address).
# - Names, against Zeek's published logs:
#     zeek/wikipedia.pcap             dns.log: every address in the answers of an A/AAAA query
#                                     carries the queried name (source dns);
#     zeek/tls_*.pcap, zeek/quic_*    ssl.log: the responder carries server_name (source sni);
#     zeek/dhcp_dhcp.pcap             dhcp.log: host_name is on the client's address (assigned,
#                                     requested or client address; source dhcp).
#
# Prints the agreement per capture. Passes when the rows that differ are exactly those listed in
# the known-differences file (each with its reason), so that a new difference fails, and so does
# a fixed one until it is removed from the list.
#
# Usage: ip_tshark_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
# Exits 77 (skipped) without the shared captures or without root (DPDK needs it).
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3 known=$4

# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"

[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
need_cmd python3 tshark
[ -f "$known" ] || fail "missing known-differences file $known"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(cd "$captures" && pwd)
mapfile -t files < <(cd "$dir" && find . -name '*.pcap' | sed 's|^\./||' | sort)
[ "${#files[@]}" -gt 0 ] || fail "no captures under $dir"
for f in "${files[@]}"; do
  out="$work/${f//\//_}"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out.json" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  tshark -r "$dir/$f" -q -z endpoints,ip -z endpoints,ipv6 >"$out.tshark" 2>/dev/null ||
    fail "tshark -r $f failed"
done

python3 - "$dir" "$work" "$known" "${files[@]}" <<'PY'
import collections, ipaddress, json, os, sys

captures, work, known_file = sys.argv[1:4]
files = sys.argv[4:]

def report(capture):
    with open(os.path.join(work, capture.replace("/", "_") + ".json")) as f:
        r = json.load(f)
    if "ip" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no ip plugin in the report (refused: {r['refused_plugins']})")
    ip = r["plugins"]["ip"]
    if ip["hosts_total"] > len(ip["hosts"]):
        sys.exit(f"FAIL: {capture}: the report lists {len(ip['hosts'])} of {ip['hosts_total']} hosts")
    if ip["untracked_packets"]:
        sys.exit(f"FAIL: {capture}: {ip['untracked_packets']} untracked host sightings")
    return ip

def canon(addr):
    return str(ipaddress.ip_address(addr))

# tshark 4.0: a title line ("IPv4 Endpoints"), "Filter:", a header, then per address:
# address, Packets, Bytes, Tx Packets, Tx Bytes, Rx Packets, Rx Bytes.
def tshark_endpoints(capture):
    rows = {}
    with open(os.path.join(work, capture.replace("/", "_") + ".tshark")) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 7 or not parts[1].isdigit():
                continue
            try:
                addr = canon(parts[0])
            except ValueError:
                continue
            rows[addr] = tuple(int(x) for x in parts[1:])
    return rows

found = set()      # difference keys
host_stats = []    # (capture, tshark hosts, agreeing, ours)

def diff(*key):
    found.add("\t".join(str(k) for k in key))

print(f"{'capture':58} {'tshark':>6} {'agree':>6} {'ours':>6}  agreement")
for capture in files:
    ip = report(capture)
    want = tshark_endpoints(capture)
    have = {}
    for h in ip["hosts"]:
        have[canon(h["address"])] = (h["packets"], h["bytes"], h["packets_out"], h["bytes_out"],
                                     h["packets_in"], h["bytes_in"])
    agree = sum(1 for a, v in want.items() if have.get(a) == v)
    for a in sorted(set(want) | set(have)):
        if want.get(a) != have.get(a):
            w = want.get(a)
            o = have.get(a)
            diff("endpoints", capture, a, "tshark=" + ("-" if w is None else ",".join(map(str, w))),
                 "ours=" + ("-" if o is None else ",".join(map(str, o))))
    host_stats.append((capture, len(want), agree, len(have)))
    print(f"{capture:58} {len(want):6} {agree:6} {len(have):6}  "
          f"{100.0 * agree / max(len(want), 1):6.2f}%")

# --- names against Zeek's logs, read by their own #fields header.
def zeek_log(path):
    fields, rows = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line and not line.startswith("#"):
                rows.append(dict(zip(fields, line.split("\t"))))
    return rows

def names_of(capture):
    by = collections.defaultdict(set)
    for n in report(capture)["names"]:
        by[canon(n["address"])].add((n["source"], n["name"]))
    return by

print()
print(f"{'names':58} {'zeek':>6} {'agree':>6}")
def check_names(label, capture, expected):
    """expected: list of (addresses that may carry it, source, name)."""
    ours = names_of(capture)
    agree = 0
    for addrs, source, name in expected:
        if any((source, name.lower()) in ours.get(canon(a), ()) for a in addrs):
            agree += 1
        else:
            diff("names", capture, "|".join(addrs), source, name)
    print(f"{label:58} {len(expected):6} {agree:6}")

dns = []
for v in zeek_log(os.path.join(captures, "zeek/wikipedia.dns.log")):
    if v["qtype_name"] not in ("A", "AAAA") or v["answers"] == "-":
        continue
    for answer in v["answers"].split(","):
        try:
            ipaddress.ip_address(answer)
        except ValueError:
            continue  # a CNAME target
        dns.append(([answer], "dns", v["query"]))
check_names("zeek/wikipedia.dns.log A/AAAA answers", "zeek/wikipedia.pcap", dns)

for log in sorted(os.listdir(os.path.join(captures, "zeek"))):
    if not log.endswith(".ssl.log"):
        continue
    capture = "zeek/" + log[: -len(".ssl.log")] + ".pcap"
    sni = [([v["id.resp_h"]], "sni", v["server_name"])
           for v in zeek_log(os.path.join(captures, "zeek", log)) if v["server_name"] != "-"]
    check_names(f"zeek/{log} server_name", capture, sni)

dhcp = []
for v in zeek_log(os.path.join(captures, "zeek/dhcp_dhcp.dhcp.log")):
    if v["host_name"] == "-":
        continue
    addrs = [v[k] for k in ("assigned_addr", "requested_addr", "client_addr") if v[k] != "-"]
    dhcp.append((addrs, "dhcp", v["host_name"]))
check_names("zeek/dhcp_dhcp.dhcp.log host_name", "zeek/dhcp_dhcp.pcap", dhcp)

# --- known differences: "<kind>\t<capture>\t<key...>" lines, each followed by "  reason: ...".
known = set()
with open(known_file) as f:
    for line in f:
        line = line.rstrip("\n")
        if not line or line.startswith("#") or line.startswith(" "):
            continue
        known.add(line)

total_hosts = sum(s[1] for s in host_stats)
total_agree = sum(s[2] for s in host_stats)
print()
print(f"hosts: {total_agree} of {total_hosts} tshark endpoints agree exactly "
      f"({100.0 * total_agree / max(total_hosts, 1):.2f}%) over {len(host_stats)} captures")
new, fixed = sorted(found - known), sorted(known - found)
for k in new:
    print("NEW DIFFERENCE: " + k)
for k in fixed:
    print("LISTED BUT NOT FOUND (fixed? remove it): " + k)
if new or fixed:
    sys.exit("FAIL: differences do not match the known-differences file")
print(f"PASS ({len(found)} known differences)")
PY
