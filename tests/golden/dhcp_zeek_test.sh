#!/usr/bin/env bash
# Golden test of the dhcp plugin against published results.
#
# - zeek/dhcp_dhcp.pcap against Zeek's zeek/dhcp_dhcp.dhcp.log: the multiset of transactions
#   as (msg_types, client_addr, server_addr, mac, host_name, client_fqdn, domain, requested_addr,
#   assigned_addr, lease_time, client_message, server_message), read by the log's own #fields
#   header.
# - tcpdump/dhcp-rfc3004.pcap against tcpdump's dhcp-rfc3004-v.out (`tcpdump -v -r`): per
#   transaction id the message types and the options both read (requested IP, server id, lease
#   time, subnet mask, routers, DNS servers, domain, host name, parameter list, chaddr, yiaddr).
# - Every shared capture with DHCP (the two above and nDPI's 1kxun, iphone, signal) against
#   tshark's dissector, run here: DHCPv4 messages per type, DHCPv6 messages per type, the
#   message types per transaction id, and each client's latest host name. No message may be
#   malformed.
#
# Prints the agreement per capture. Passes when the rows that differ are exactly those listed in
# the known-differences file (with the reason for each), so that a new difference fails, and so
# does a fixed one until it is removed from the list.
#
# Usage: dhcp_zeek_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
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
files=(zeek/dhcp_dhcp.pcap tcpdump/dhcp-rfc3004.pcap ndpi/1kxun.pcap ndpi/iphone.pcap
       ndpi/signal.pcap)
for f in "${files[@]}"; do
  [ -f "$dir/$f" ] || fail "missing capture $dir/$f"
  out="$work/${f//\//_}"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out.json" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  # One line per DHCP message, in capture order.
  tshark -r "$dir/$f" -Y 'dhcp || dhcpv6' -T fields -E separator=/t -E occurrence=f \
    -e dhcp.flags.bc -e dhcp.type -e dhcp.id -e dhcp.option.dhcp -e dhcp.hw.mac_addr \
    -e dhcp.option.hostname -e dhcpv6.msgtype >"$out.tshark" 2>/dev/null ||
    fail "tshark -r $f failed"
done

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" "${files[@]}" <<'PY'
import golden_lib
import collections, json, os, re, sys

captures, work, known_file = sys.argv[1:4]
files = sys.argv[4:]

def report(capture):
    with open(os.path.join(work, capture.replace("/", "_") + ".json")) as f:
        r = json.load(f)
    if "dhcp" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no dhcp plugin in the report (refused: {r['refused_plugins']})")
    d = r["plugins"]["dhcp"]
    if d["transactions_dropped"]:
        sys.exit(f"FAIL: {capture}: {d['transactions_dropped']} transactions dropped")
    return d

def dash(v):
    return "-" if v is None or v == "" or v == [] else str(v)

found = {}  # (capture, check, side, fields...) -> count
stats = {}  # (capture, check) -> (reference rows, agreeing)

def compare(capture, check, want, have):
    agree = sum((want & have).values())
    for side, diff in (("reference-only", want - have), ("ours-only", have - want)):
        for row, n in diff.items():
            found[(capture, check, side) + tuple(str(x) for x in row)] = n
    total = sum(want.values())
    stats[(capture, check)] = (total, agree)
    print(f"{capture:28} {check:12} {total:6} {agree:6} {sum(have.values()):6}  "
          f"{100.0 * agree / max(total, 1):6.2f}%")

print(f"{'capture':28} {'check':12} {'ref':>6} {'agree':>6} {'ours':>6}  agreement")

# --- Zeek: dhcp.log, TSV with its columns named in "#fields".
ZEEK_FIELDS = ["msg_types", "client_addr", "server_addr", "mac", "host_name", "client_fqdn",
               "domain", "requested_addr", "assigned_addr", "lease_time", "client_message",
               "server_message"]

def zeek_log(path):
    rows, fields = collections.Counter(), None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
                continue
            if line.startswith("#") or not line:
                continue
            v = dict(zip(fields, line.split("\t")))
            if v["lease_time"] != "-":
                v["lease_time"] = str(int(float(v["lease_time"])))
            rows[tuple(v[k] for k in ZEEK_FIELDS)] += 1
    return rows

def ours_zeek(d):
    rows = collections.Counter()
    for t in d["transactions"]:
        v = dict(t)
        v["msg_types"] = ",".join(t["msg_types"])
        rows[tuple(dash(v[k]) for k in ZEEK_FIELDS)] += 1
    return rows

compare("zeek/dhcp_dhcp.pcap", "zeek", zeek_log(os.path.join(captures,
        "zeek/dhcp_dhcp.dhcp.log")), ours_zeek(report("zeek/dhcp_dhcp.pcap")))

# --- tcpdump -v: a header line per packet ("... xid 0x6e32864, ..."), then indented fields
# ("Your-IP 192.168.1.4", "DHCP-Message (53), length 1: Offer", "Subnet-Mask (1), length 4:
# 255.255.255.0") and, for the parameter list, the names with their codes on further lines.
TCPDUMP_FIELDS = ["msg_types", "mac", "host_name", "requested_addr", "params", "server_id",
                  "assigned_addr", "lease_time", "subnet_mask", "routers", "dns_servers",
                  "domain"]
TYPES = {"Discover": "DISCOVER", "Offer": "OFFER", "Request": "REQUEST", "Decline": "DECLINE",
         "ACK": "ACK", "NACK": "NAK", "Release": "RELEASE", "Inform": "INFORM"}

def tcpdump_out(path):
    txs, order, cur, in_params = {}, [], None, False
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            m = re.search(r"BOOTP/DHCP, (Request|Reply).*xid (0x[0-9a-f]+)", line)
            if m:
                client = m.group(1) == "Request"
                xid = int(m.group(2), 16)
                if xid not in txs:
                    txs[xid] = {k: "-" for k in TCPDUMP_FIELDS}
                    txs[xid]["msg_types"] = []
                    order.append(xid)
                cur, in_params = txs[xid], False
                continue
            if cur is None or not line:
                continue
            m = re.match(r"([A-Za-z-]+) \((\d+)\), length \d+: ?(.*)$", line)
            if m:
                name, value = m.group(1), m.group(3).strip().strip('"')
                in_params = name == "Parameter-Request"
                key = {"Requested-IP": "requested_addr", "Server-ID": "server_id",
                       "Lease-Time": "lease_time", "Subnet-Mask": "subnet_mask",
                       "Default-Gateway": "routers", "Domain-Name-Server": "dns_servers",
                       "Domain-Name": "domain", "Hostname": "host_name"}.get(name)
                if name == "DHCP-Message":
                    cur["msg_types"].append(TYPES.get(value, value.upper()))
                elif in_params:
                    cur["params"] = []
                elif key:
                    cur[key] = ",".join(v.strip() for v in value.split(","))
                continue
            if in_params and re.search(r"\(\d+\)", line) and "length" not in line:
                cur["params"] += [int(c) for c in re.findall(r"\((\d+)\)", line)]
                continue
            in_params = False
            m = re.match(r"(Your-IP|Client-Ethernet-Address) (\S+)", line)
            if m:
                cur["assigned_addr" if m.group(1) == "Your-IP" else "mac"] = m.group(2)
    rows = collections.Counter()
    for xid in order:
        t = txs[xid]
        t["msg_types"] = ",".join(t["msg_types"])
        if isinstance(t["params"], list):
            t["params"] = ",".join(str(c) for c in t["params"])
        rows[tuple(t[k] for k in TCPDUMP_FIELDS)] += 1
    return rows

def ours_tcpdump(d):
    rows = collections.Counter()
    for t in d["transactions"]:
        v = dict(t)
        v["msg_types"] = ",".join(t["msg_types"])
        v["params"] = ",".join(str(c) for c in t["params"])
        v["routers"] = ",".join(t["routers"])
        v["dns_servers"] = ",".join(t["dns_servers"])
        rows[tuple(dash(v[k]) for k in TCPDUMP_FIELDS)] += 1
    return rows

compare("tcpdump/dhcp-rfc3004.pcap", "tcpdump", tcpdump_out(os.path.join(captures,
        "tcpdump/dhcp-rfc3004-v.out")), ours_tcpdump(report("tcpdump/dhcp-rfc3004.pcap")))

# --- tshark on every capture: counts per message type, the types per transaction id, and
# the latest host name each client (chaddr) sent.
V4 = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
      7: "RELEASE", 8: "INFORM"}
V6 = {1: "SOLICIT", 2: "ADVERTISE", 3: "REQUEST", 4: "CONFIRM", 5: "RENEW", 6: "REBIND",
      7: "REPLY", 8: "RELEASE", 9: "DECLINE", 10: "RECONFIGURE", 11: "INFORMATION-REQUEST",
      12: "RELAY-FORW", 13: "RELAY-REPL"}
ok = True
for capture in files:
    d = report(capture)
    malformed = {k: v for k, v in d["malformed"].items() if v}
    if malformed:
        ok = False
        print(f"{capture}: FAIL: malformed {malformed}")
    types, xids, names = collections.Counter(), collections.defaultdict(list), {}
    with open(os.path.join(work, capture.replace("/", "_") + ".tshark")) as f:
        for line in f:
            bc, op, xid, mtype, mac, host, v6 = (line.rstrip("\n").split("\t") + [""] * 7)[:7]
            if v6:
                types[("v6", V6.get(int(v6), "OTHER"))] += 1
                continue
            name = V4.get(int(mtype), "UNKNOWN") if mtype else "BOOTP"
            types[("v4", name)] += 1
            xids[int(xid, 16)].append(name)
            if op == "1" and host:
                names[mac] = host
    have = collections.Counter({("v4", k): v for k, v in d["messages"].items() if v})
    have.update({("v6", k): v for k, v in d["v6_messages"].items()})
    compare(capture, "types", types, have)
    want = collections.Counter((f"0x{x:08x}", ",".join(t)) for x, t in xids.items())
    # Zeek's grouping may split one xid into several records; tshark sees one list per xid.
    ours = collections.defaultdict(list)
    for t in d["transactions"]:
        ours[t["xid"]] += t["msg_types"]
    compare(capture, "xids", want, collections.Counter((x, ",".join(t)) for x, t in ours.items()))
    compare(capture, "host_names", collections.Counter(names.items()),
            collections.Counter((c["mac"], c["host_name"]) for c in d["clients"]
                                if c["host_name"] is not None))

# --- Known differences: "capture<TAB>check<TAB>side<TAB>count<TAB>the row's fields<TAB>reason";
# '#' starts a comment.
golden_lib.check_known(found, known_file, 3)
if not ok:
    sys.exit("FAIL: see the lines above")
agree = sum(s[1] for s in stats.values())
total = sum(s[0] for s in stats.values())
print(f"PASS: {agree} of {total} reference rows agree ({len(found)} known differences)")
PY
