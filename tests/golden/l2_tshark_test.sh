#!/usr/bin/env bash
# Golden test of the l2 plugin against tshark and tcpdump.
#
# - Every capture in ndpi/, tcpdump/ and zeek/ of the shared captures: the per-frame fields of
#   `tshark -r X -T fields -e frame.len -e eth.dst -e vlan.id -e ieee8021ad.id -e
#   ip.dsfield.dscp -e ipv6.tclass.dscp -e arp.opcode -e frame.protocols`, counted here, against
#   the plugin's report (`wiremeter --pcap X --report json`):
#     frames; packets per outer VLAN and per outer/inner pair; packets per 802.1p priority of the
#     outer tag; IP packets per DSCP; ARP requests and replies; broadcast, multicast and unicast
#     frames by eth.dst; the RMON size distribution; STP, LLDP, CDP and EAPOL frames.
#   Rules that make the two count the same thing (not differences, the same definition):
#     * the outer VLAN is the 802.1ad tag (ieee8021ad.id) when there is one, else the first
#       802.1Q tag; the pair is the first two tags;
#     * a packet's DSCP is that of its first IP header (frame.protocols says whether ip or ipv6
#       comes first: ICMP errors quote a second header, tunnels carry one), except 6in4
#       (ip:ipv6), which the core unwraps and reads from the inner IPv6 header;
#     * sizes count the 4-byte FCS that captures leave out, for Ethernet frames (frames with an
#       eth.dst); frames of other link types have no MAC header and count without it, and are
#       in neither broadcast, multicast nor unicast.
# - tcpdump/802.1ad_QinQ.pcap against tcpdump's 802.1ad_QinQ.out (`tcpdump -e`): the outer/inner
#   VLAN of each frame, the priorities, the ARP operations and the IPv4 -> MAC bindings the ARP
#   messages state.
#
# Prints the agreement per capture. Passes when the values that differ are exactly those listed
# in the known-differences file (with the reason for each), so that a new difference fails, and
# so does a fixed one until it is removed from the list.
#
# Usage: l2_tshark_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
# Exits 77 (skipped) without the shared captures or without root (DPDK needs it).
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3 known=$4

# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"

[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
need_cmd tshark python3
[ -x "$wiremeter" ] || fail "no wiremeter binary at $wiremeter"
[ -f "$plugin_dir/libwm_l2.so" ] || fail "no l2 plugin in $plugin_dir"
[ -f "$known" ] || fail "missing known-differences file $known"

export PYTHONPATH="$(cd "$(dirname "$0")" && pwd)"
exec python3 - "$wiremeter" "$plugin_dir" "$captures" "$known" <<'PY'
import collections, glob, json, os, re, subprocess, sys
import golden_lib

wiremeter, plugin_dir, captures, known_file = sys.argv[1:5]
FIELDS = ["frame.len", "eth.dst", "vlan.id", "vlan.priority", "ieee8021ad.id",
          "ieee8021ad.priority", "ip.dsfield.dscp", "ipv6.tclass.dscp", "arp.opcode",
          "frame.protocols"]
BOUNDS = [(0, 63, "lt64"), (64, 64, "64"), (65, 127, "65-127"), (128, 255, "128-255"),
          (256, 511, "256-511"), (512, 1023, "512-1023"), (1024, 1518, "1024-1518"),
          (1519, 9000, "1519-9000"), (9001, 1 << 32, "gt9000")]
CONTROL = {"stp": "stp", "lldp": "lldp", "cdp": "cdp", "eapol": "eapol"}


def bucket(n):
    return next(name for lo, hi, name in BOUNDS if lo <= n <= hi)


def first(v):
    return v.split(",")[0] if v else ""


def tshark_counts(path):
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=\t",
                          "-E", "occurrence=a", "-E", "aggregator=,"]
                         + [a for f in FIELDS for a in ("-e", f)],
                         check=True, capture_output=True, text=True).stdout
    c = collections.Counter()
    for line in out.splitlines():
        (length, dst, vid, vprio, adid, adprio, dscp4, dscp6, arp, protos) = (
            line.split("\t") + [""] * len(FIELDS))[:len(FIELDS)]
        layers = protos.split(":")
        c["frames"] += 1
        ethernet = bool(dst)
        c["size " + bucket(int(length) + (4 if ethernet else 0))] += 1
        if ethernet:
            d = first(dst).lower()
            cast = ("broadcast" if d == "ff:ff:ff:ff:ff:ff"
                    else "multicast" if int(d[:2], 16) & 1 else "unicast")
            c["cast " + cast] += 1
        tags = [(first(adid), first(adprio))] if adid else []
        if vid:
            tags += list(zip(vid.split(","), vprio.split(",")))
        if tags:
            c["vlan " + tags[0][0]] += 1
            c["pcp " + tags[0][1]] += 1
        if len(tags) >= 2:
            c["pair %s/%s" % (tags[0][0], tags[1][0])] += 1
        ip_layers = [l for l in layers if l in ("ip", "ipv6")]
        if ip_layers:
            if "ip:ipv6" in protos:  # 6in4: the core reads the inner header
                dscp = first(dscp6)
            else:
                dscp = first(dscp4) if ip_layers[0] == "ip" else first(dscp6)
            if dscp:
                c["dscp " + dscp] += 1
        if arp:
            c["arp " + {"1": "requests", "2": "replies"}.get(first(arp), "other")] += 1
        for layer, name in CONTROL.items():
            if layer in layers:
                c["control " + name] += 1
    return c


def our_counts(l2):
    c = collections.Counter()
    c["frames"] = l2["frames"]
    for name, n in l2["sizes"]["all"].items():
        if n:
            c["size " + name] = n
    for cast in ("broadcast", "multicast", "unicast"):
        if l2["cast"]["all"][cast]["packets"]:
            c["cast " + cast] = l2["cast"]["all"][cast]["packets"]
    for v in l2["vlans"]:
        c["vlan %d" % v["vlan"]] = v["packets"]
    for v in l2["vlan_pairs"]:
        c["pair %d/%d" % (v["vlan"], v["inner"])] = v["packets"]
    for p in l2["qos"]["pcp"]:
        c["pcp %d" % p["pcp"]] = p["packets"]
    for d in l2["qos"]["dscp"]:
        c["dscp %d" % d["dscp"]] = d["packets"]
    for k in ("requests", "replies"):
        if l2["arp"][k]:
            c["arp " + k] = l2["arp"][k]
    if l2["arp"]["other_ops"]:
        c["arp other"] = l2["arp"]["other_ops"]
    for p in l2["control"]["protocols"]:
        if p["protocol"] in CONTROL.values():
            c["control " + p["protocol"]] = p["packets"]
    return c


def run(capture):
    path = os.path.join(captures, capture)
    r = subprocess.run([wiremeter, "--pcap", path, "--report", "json", "--plugin-dir", plugin_dir],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: wiremeter --pcap {capture}: {r.stderr[-2000:]}")
    report = json.loads(r.stdout)
    if "l2" not in report["plugins"]:
        sys.exit(f"FAIL: {capture}: no l2 plugin in the report")
    l2 = report["plugins"]["l2"]
    if any(l2["overflow"].values()):
        sys.exit(f"FAIL: {capture}: table overflow {l2['overflow']}")
    return l2


found = {}  # (capture, key) -> (reference, ours)
print(f"{'capture':58} {'values':>6} {'agree':>6}  agreement")
total_values = total_agree = 0
files = sorted(os.path.relpath(p, captures) for d in ("ndpi", "tcpdump", "zeek")
               for p in glob.glob(os.path.join(captures, d, "*.pcap")))
reports = {}
for capture in files:
    ref = tshark_counts(os.path.join(captures, capture))
    l2 = reports[capture] = run(capture)
    ours = our_counts(l2)
    keys = set(ref) | set(ours)
    agree = sum(1 for k in keys if ref[k] == ours[k])
    total_values += len(keys)
    total_agree += agree
    for k in keys:
        if ref[k] != ours[k]:
            found[(capture, k)] = (ref[k], ours[k])
    print(f"{capture:58} {len(keys):6} {agree:6}  {100.0 * agree / max(len(keys), 1):6.2f}%")

# --- tcpdump -e: "00:20:d2:5a:fb:3f > ff:ff:ff:ff:ff:ff, ethertype 802.1Q-QinQ (0x88a8),
# length 64: vlan 200, p 0, ethertype 802.1Q (0x8100), vlan 2001, p 0, ethertype ARP (0x0806),
# Request who-has 172.21.79.100 tell 172.21.79.97, length 42"
capture = "tcpdump/802.1ad_QinQ.pcap"
ref = collections.Counter()
with open(os.path.join(captures, "tcpdump/802.1ad_QinQ.out")) as f:
    for line in f:
        m = re.search(r" (\S+) > (\S+), .*?: vlan (\d+), p (\d), .*?vlan (\d+), p \d, ", line)
        if not m:
            continue
        src = m.group(1)
        ref["vlan " + m.group(3)] += 1
        ref["pcp " + m.group(4)] += 1
        ref[f"pair {m.group(3)}/{m.group(5)}"] += 1
        req = re.search(r"Request who-has \S+ tell (\S+),", line)
        rep = re.search(r"Reply (\S+) is-at (\S+),", line)
        if req:
            ref["arp requests"] += 1
            ref[f"binding {req.group(1)} {src}"] = 1
        if rep:
            ref["arp replies"] += 1
            ref[f"binding {rep.group(1)} {rep.group(2)}"] = 1
l2 = reports[capture]
ours = our_counts(l2)
ours = collections.Counter({k: v for k, v in ours.items() if k.split()[0] in
                            ("vlan", "pcp", "pair", "arp")})
for b in l2["arp"]["bindings"]:
    ours[f"binding {b['ip']} {b['mac']}"] = 1
keys = set(ref) | set(ours)
agree = sum(1 for k in keys if ref[k] == ours[k])
for k in keys:
    if ref[k] != ours[k]:
        found[("tcpdump-out:" + capture, k)] = (ref[k], ours[k])
print(f"{'tcpdump -e ' + capture:58} {len(keys):6} {agree:6}  {100.0 * agree / max(len(keys), 1):6.2f}%")
total_values += len(keys)
total_agree += agree

# --- Known differences: capture, key, reference, ours, reason.
golden_lib.check_known_values(found, known_file, 2, 2)
print(f"PASS: {total_agree} of {total_values} values agree over {len(files)} captures "
      f"and tcpdump's 802.1ad_QinQ.out; {len(found)} known differences")
PY
