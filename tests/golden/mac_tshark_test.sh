#!/usr/bin/env bash
# Golden test of the mac plugin.
#
# - Every capture in ndpi/, tcpdump/ and zeek/ of the shared captures: the packets and bytes each
#   unicast MAC address sent and received in `wiremeter --pcap FILE --report json` equal what
#   tshark's dissection gives (eth.src, eth.dst and frame.len of every frame, summed per address:
#   the numbers of `tshark -z endpoints,eth` before it rounds bytes from 10 kB up). Broadcast and
#   multicast addresses are destinations, not stations: the plugin keeps no entry for them, and
#   they are left out on both sides. Captures without Ethernet headers (Linux cooked, raw IP)
#   have no MAC addresses on either side. Deliberate differences: 00:00:00:00:00:00 is not a
#   station (an unset address, as in ARP requests; some converted captures carry it in every
#   frame) and has no entry; a MAC known only from the contents of ARP or DHCP messages (no frame
#   of its own) has an entry with its IPs and no traffic, which tshark does not list.
# - zeek/dhcp_dhcp.pcap: every MAC address to which Zeek's dhcp.log assigns an address
#   (assigned_addr) lists that address among its IPs; the vendor of each MAC is the one the IEEE
#   registry gives its prefix (the same file tshark's manuf resolution starts from).
#
# Usage: mac_tshark_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR
# Exits 77 (skipped) without the shared captures or without root (DPDK needs it).
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3
# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"
[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
for c in tshark python3; do command -v "$c" >/dev/null || fail "missing command: $c"; done
[ -x "$wiremeter" ] || fail "no wiremeter binary at $wiremeter"
[ -f "$plugin_dir/libwm_mac.so" ] || fail "no mac plugin in $plugin_dir"

exec python3 - "$wiremeter" "$plugin_dir" "$captures" <<'PY'
import collections
import csv
import glob
import json
import os
import subprocess
import sys
import tempfile

wiremeter, plugin_dir, captures = sys.argv[1:4]


def unicast(mac):
    return mac and not int(mac.split(":")[0], 16) & 1 and mac != "00:00:00:00:00:00"


def tshark_macs(pcap):
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-T", "fields", "-e", "eth.src",
                          "-e", "eth.dst", "-e", "frame.len"],
                         capture_output=True, text=True, check=True).stdout
    macs = collections.defaultdict(lambda: [0, 0, 0, 0])  # tx packets, tx bytes, rx p, rx b
    for line in out.splitlines():
        src, dst, length = (line.split("\t") + ["", "", ""])[:3]
        if not length:
            continue
        # Several Ethernet headers (a tunnel, e.g. VXLAN): the outer one is the frame's.
        src, dst, n = src.split(",")[0], dst.split(",")[0], int(length)
        if unicast(src):
            macs[src][0] += 1
            macs[src][1] += n
        if unicast(dst):
            macs[dst][2] += 1
            macs[dst][3] += n
    return dict(macs)


def report(pcap, plugins):
    out = subprocess.run([wiremeter, "--pcap", pcap, "--report", "json", "--plugin-dir",
                          plugins], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("FAIL: wiremeter --pcap %s: %s" % (pcap, out.stderr.strip()[-300:]))
    return json.loads(out.stdout)["plugins"]["mac"]


# Only the mac plugin: the test is about its numbers, and it runs faster alone.
only = tempfile.mkdtemp()
os.symlink(os.path.abspath(os.path.join(plugin_dir, "libwm_mac.so")), os.path.join(only, "libwm_mac.so"))

failures = []
total_macs = 0
pcaps = sorted(glob.glob(os.path.join(captures, "*", "*.pcap")))
for pcap in pcaps:
    name = os.path.relpath(pcap, captures)
    expected = tshark_macs(pcap)
    ours = {m["mac"]: [m["tx_packets"], m["tx_bytes"], m["rx_packets"], m["rx_bytes"]]
            for m in report(pcap, only)["macs"] if m["tx_packets"] + m["rx_packets"]}
    bad = [(mac, expected.get(mac), ours.get(mac)) for mac in sorted(expected.keys() | ours.keys())
           if expected.get(mac) != ours.get(mac)]
    total_macs += len(expected)
    print("%-60s %4d MACs, %d differ" % (name, len(expected), len(bad)))
    for mac, e, o in bad[:5]:
        failures.append("%s %s: tshark %s, wiremeter %s" % (name, mac, e, o))

# DHCP: the addresses Zeek saw assigned, and the vendors.
pcap = os.path.join(captures, "zeek", "dhcp_dhcp.pcap")
log = os.path.join(captures, "zeek", "dhcp_dhcp.dhcp.log")
macs = {m["mac"]: m for m in report(pcap, only)["macs"]}
fields, assigned = [], 0
with open(log) as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if line.startswith("#") or not line:
            continue
        row = dict(zip(fields, line.split("\t")))
        if row.get("mac", "-") == "-" or row.get("assigned_addr", "-") == "-":
            continue
        assigned += 1
        ips = macs.get(row["mac"], {}).get("ips", [])
        if row["assigned_addr"] not in ips:
            failures.append("dhcp_dhcp: %s was assigned %s (Zeek), wiremeter lists %s"
                            % (row["mac"], row["assigned_addr"], ips))
vendors = {}
with open("/usr/share/ieee-data/oui.csv", encoding="utf-8", errors="replace") as f:
    for parts in csv.reader(f):
        if len(parts) >= 3 and len(parts[1]) == 6:
            vendors[parts[1].lower()] = parts[2].strip()
for mac, m in macs.items():
    want = vendors.get(mac.replace(":", "")[:6], "")
    if m["vendor"] != want:
        failures.append("dhcp_dhcp: vendor of %s is %r, the registry says %r" % (mac, m["vendor"], want))
if assigned == 0:
    failures.append("dhcp_dhcp.dhcp.log: no assigned_addr rows read")

print("%d captures, %d unicast MACs compared, %d DHCP assignments checked"
      % (len(pcaps), total_macs, assigned))
if failures:
    print("\n".join("FAIL: " + f for f in failures[:40]))
    sys.exit(1)
print("PASS")
PY
