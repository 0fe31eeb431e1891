#!/usr/bin/env bash
# Golden test of the connections plugin: for every capture in ndpi/, tcpdump/ and zeek/ of the
# shared captures, the packets and bytes per direction of each TCP and UDP flow in
# `wiremeter --pcap FILE --report json` equal tshark's conversation statistics
# (`tshark -q -z conv,tcp -z conv,udp`). Flows are matched by 5-tuple regardless of direction.
#
# Bytes are frame bytes: tshark's frame.len, our wire_len. They agree while no capture is cut by
# a snaplen (DPDK's net_pcap keeps only the captured length; none of these captures is cut).
# tshark prints conversation bytes rounded from 10 kB up, so the test also reads tshark's
# per-frame fields and sums frame.len per conversation the way the conversation tap does; those
# exact sums must reproduce tshark's own table (frames exactly, bytes as tshark rounds them)
# before they are used as the reference.
#
# Deliberate differences, each applied as an exact rule and counted in the summary:
# - IP fragments: our flow table gives the first fragment (it carries the ports) to the flow and
#   later fragments to no flow. That is tshark with IP reassembly off, which is how tshark is
#   run here; with reassembly on, tshark counts the frame that completes the datagram instead.
#   The summary says how many conversations that setting changes.
# - VLAN: tshark's conversation key ignores VLAN tags; ours includes the outer VLAN id. Flows
#   that differ only in VLAN are summed before comparing.
# - Tunnels: the core unwraps 6in4 (IPv6 directly in IPv4), so those conversations are compared
#   like any other. For other tunnels (Teredo, 4in6, IP-in-IP, GRE) tshark's conversations use
#   the inner headers and our flows the outer ones: conversations whose TCP/UDP header sits
#   behind such a tunnel are left out when we have no flow for them.
# - ICMP: tshark's TCP/UDP conversations leave out the headers quoted in ICMP errors, and so do
#   we (those frames belong to ICMP flows); ICMP flows themselves are not compared.
# Any other difference fails the test.
#
# Usage: connections_tshark_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3
# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"
[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
for c in tshark python3; do command -v "$c" >/dev/null || fail "missing command: $c"; done
[ -x "$wiremeter" ] || fail "no wiremeter binary at $wiremeter"
[ -f "$plugin_dir/libwm_connections.so" ] || fail "no connections plugin in $plugin_dir"

exec python3 - "$wiremeter" "$plugin_dir" "$captures" <<'PY'
import collections
import glob
import json
import os
import re
import subprocess
import sys

wiremeter, plugin_dir, captures = sys.argv[1:4]
NO_DEFRAG = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"]
FIELDS = ["frame.number", "frame.len", "frame.protocols", "ip.src", "ip.dst", "ipv6.src",
          "ipv6.dst", "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "ip.flags.mf",
          "ip.frag_offset"]


def human(n):
    """tshark's format_size(): the largest unit in which the value is at least 10, truncated."""
    for power, unit in ((10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n // power >= 10:
            return "%d %s" % (n // power, unit)
    return "%d bytes" % n


def conv_key(proto, a, b):
    return (proto,) + tuple(sorted([a, b]))


def split_endpoint(s):
    host, port = s.rsplit(":", 1)  # IPv6 addresses are printed without brackets
    return (host, int(port))


CONV_LINE = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \w+)\s+(\d+)\s+(\d+ \w+)\s+")


def tshark(path, defragment):
    """Per-frame fields and the conversation tables, from one tshark run."""
    args = ["tshark", "-n", "-r", path, "-z", "conv,tcp", "-z", "conv,udp", "-T", "fields",
            "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        args += ["-e", f]
    if not defragment:
        args += NO_DEFRAG
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    frames, tables, proto = [], {}, None
    in_stats = False
    for line in out.splitlines():
        if line.startswith("====="):
            in_stats = True
            continue
        if not in_stats:
            frames.append(dict(zip(FIELDS, line.split("\t"))))
            continue
        if line.startswith("TCP Conversations"):
            proto = 6
        elif line.startswith("UDP Conversations"):
            proto = 17
        m = CONV_LINE.match(line)
        if m and proto:
            a, b = split_endpoint(m.group(1)), split_endpoint(m.group(2))
            # "<-" is B to A, "->" is A to B.
            tables[conv_key(proto, a, b)] = {b: (int(m.group(3)), m.group(4)),
                                             a: (int(m.group(5)), m.group(6))}
    return frames, tables


def tapped(frames):
    """Exact per-direction frames and bytes per conversation, as tshark's conversation tap
    counts them: every TCP/UDP header not quoted inside an ICMP error, keyed by the IP header
    right before it. Also returns the conversations seen behind a tunnel the core does not
    unwrap, and whether any frame was an IP fragment."""
    conv = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))
    tunneled = set()
    fragmented = False
    for f in frames:
        layers = f["frame.protocols"].split(":")
        values = {k: (v.split(",") if v else []) for k, v in f.items()}
        more_fragments = any(v in ("1", "True") for v in values["ip.flags.mf"])
        later_fragment = any(v != "0" for v in values["ip.frag_offset"])
        if more_fragments or later_fragment or "ipv6.fraghdr" in layers:
            fragmented = True
        seen = collections.Counter()
        ip_path, last_ip, in_error, in_teredo = [], None, False, False
        length = int(f["frame.len"])
        for layer in layers:
            if layer in ("icmp", "icmpv6"):
                in_error = True  # anything after it is quoted from the offending packet
            elif layer in ("ip", "ipv6"):
                last_ip = (layer, seen[layer])
                ip_path.append(layer)
            elif layer == "teredo":
                in_teredo = True
            if layer in ("ip", "ipv6", "tcp", "udp"):
                seen[layer] += 1
            if layer not in ("tcp", "udp") or in_error or last_ip is None:
                continue
            n = seen[layer] - 1
            ip, i = last_ip
            try:
                src = (values[ip + ".src"][i], int(values[layer + ".srcport"][n]))
                dst = (values[ip + ".dst"][i], int(values[layer + ".dstport"][n]))
            except (IndexError, ValueError):
                continue
            key = conv_key(6 if layer == "tcp" else 17, src, dst)
            d = conv[key][src]
            d[0] += 1
            d[1] += length
            conv[key][dst]  # both directions exist, as in tshark's table
            if in_teredo or (len(ip_path) > 1 and ip_path != ["ip", "ipv6"]):
                tunneled.add(key)  # 6in4 is unwrapped by the core; other tunnels are not
    return conv, tunneled, fragmented


def ours(path):
    out = subprocess.run([wiremeter, "--pcap", path, "--report", "json", "--plugin-dir",
                          plugin_dir], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("FAIL: wiremeter --pcap %s: %s" % (path, out.stderr.strip()[-500:]))
    report = json.loads(out.stdout)["plugins"]["connections"]
    if report["dropped"]:
        raise SystemExit("FAIL: %s: %d flow records dropped" % (path, report["dropped"]))
    flows = collections.defaultdict(list)
    for fl in report["flows"]:
        if fl["proto"] not in (6, 17):
            continue
        c = (fl["client"], fl["client_port"])
        s = (fl["server"], fl["server_port"])
        counts = {c: (fl["packets"][0], fl["bytes"][0]), s: (fl["packets"][1], fl["bytes"][1])}
        flows[conv_key(fl["proto"], c, s)].append((fl["vlan"], counts))
    return flows


totals = collections.Counter()
problems = []
files = sorted(p for d in ("ndpi", "tcpdump", "zeek")
               for p in glob.glob(os.path.join(captures, d, "*.pcap")))
if not files:
    print("SKIP: no captures in %s" % captures, file=sys.stderr)
    sys.exit(77)
for path in files:
    name = os.path.relpath(path, captures)
    frames, table = tshark(path, defragment=False)
    exact, tunneled, fragmented = tapped(frames)
    # The exact sums must reproduce tshark's own table before they serve as the reference.
    for key, dirs in table.items():
        for ep, (n, text) in dirs.items():
            got = exact.get(key, {}).get(ep, [0, 0])
            if got[0] != n or human(got[1]) != text:
                problems.append("%s: test model of tshark disagrees with its table for %s %s: "
                                "%d frames %s, table says %d frames %s"
                                % (name, key, ep, got[0], human(got[1]), n, text))
    if len(exact) != len(table):
        problems.append("%s: tshark tables list %d conversations, its frames %d"
                        % (name, len(table), len(exact)))
    if fragmented:
        _, default_table = tshark(path, defragment=True)
        keys = set(table) | set(default_table)
        changed = [k for k in keys if table.get(k) != default_table.get(k)]
        totals["changed_by_reassembly"] += len(changed)
    got = ours(path)
    stats = collections.Counter()
    for key, dirs in exact.items():
        stats["tshark"] += 1
        flows = got.get(key)
        if not flows and key in tunneled:
            stats["tunnel"] += 1
            continue
        if not flows:
            problems.append("%s: %s missing in our flows (tshark: %s)" % (name, key, dict(dirs)))
            continue
        if len(flows) > 1:
            stats["vlan_merged"] += 1
        mine = collections.defaultdict(lambda: [0, 0])
        for _, d in flows:
            for ep, (p, b) in d.items():
                mine[ep][0] += p
                mine[ep][1] += b
        if all(mine[ep] == v for ep, v in dirs.items()):
            stats["exact"] += 1
        else:
            problems.append("%s: %s ours %s, tshark %s" % (
                name, key, {ep: tuple(v) for ep, v in mine.items()},
                {ep: tuple(v) for ep, v in dirs.items()}))
    for key in got:
        if key not in exact:
            problems.append("%s: %s in our flows, not in tshark's conversations %s"
                            % (name, key, got[key]))
    totals.update(stats)
    print("%-62s tshark %4d  exact %4d  tunnel %2d  vlan-merged %d" % (
        name, stats["tshark"], stats["exact"], stats["tunnel"], stats["vlan_merged"]))

print("TOTAL: %d captures, %d tshark conversations: %d exact (%d of them summed over VLANs), "
      "%d behind a tunnel we do not unwrap (left out); %d conversations would differ with "
      "tshark's IP reassembly on"
      % (len(files), totals["tshark"], totals["exact"], totals["vlan_merged"], totals["tunnel"],
         totals["changed_by_reassembly"]))
if problems:
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    sys.exit(1)
print("PASS")
PY
