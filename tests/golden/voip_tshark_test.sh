#!/usr/bin/env bash
# Golden test of the voip plugin against tshark, computed here with `tshark -r` on the same
# captures.
#
# - ndpi/sip.pcap (the one shared capture with SIP and RTP):
#   * SIP messages: total, requests per method, responses per status code and retransmissions,
#     against `tshark -q -z sip,stat`;
#   * calls: one per Call-ID with an INVITE; caller and callee (From/To address), start (first
#     INVITE), final status code of the INVITE, state and time to the first 18x, re-derived from
#     tshark's decoded fields (`-Y sip -T fields`, sip.response-time);
#   * RTP: per stream (SSRC and 5-tuple) packets, lost, max and mean jitter against
#     `tshark -q -z rtp,streams` (with rtp.heuristic_rtp on, as the module's heuristic).
# - A synthetic capture written by this script (RTP streams with losses, a duplicate, a
#   reordered packet, jitter, a sequence wrap, on ports no SDP announced), against the same
#   `tshark -z rtp,streams` with heuristic RTP: loss and jitter beyond what sip.pcap exercises.
#
# Passes when the values that differ are exactly those listed, with their reasons, in the
# known-differences file (so a new difference fails, and so does a fixed one until removed).
#
# Usage: voip_tshark_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
# Exits 77 (skipped) without the shared captures, without root (DPDK needs it) or tshark.
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3 known=$4

# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"

[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
command -v tshark >/dev/null || skip "tshark is not installed"
need_cmd python3
[ -f "$known" ] || fail "missing known-differences file $known"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(cd "$captures" && pwd)
sip_pcap="$dir/ndpi/sip.pcap"
[ -f "$sip_pcap" ] || fail "missing capture $sip_pcap"

# The synthetic capture: Ethernet/IPv4/UDP, microsecond pcap.
python3 - "$work/rtp_synthetic.pcap" <<'PY'
import struct, sys

frames = []
def add(t, src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    frames.append((t, eth + ip + udp))

def rtp(pt, seq, ts, ssrc, size=160, marker=False):
    return struct.pack("!BBHII", 0x80, pt | (0x80 if marker else 0), seq & 0xffff,
                       ts & 0xffffffff, ssrc) + b"\xd5" * size

t0 = 1767225600.0
# Stream A: PCMA 20 ms, 300 packets; 7 losses and one duplicate (so lost = 6, as RFC 3550 and
# tshark count), arrival wobble up to +-9 ms.
wobble = [0, 3, -2, 9, -6, 1, 4, -8, 2, 7, -3, 0, 5, -1, -9, 6]
lost = {17, 18, 60, 61, 62, 150, 240}
for i in range(300):
    if i in lost:
        continue
    t = t0 + i * 0.020 + wobble[i % len(wobble)] / 1000.0
    p = rtp(8, 1000 + i, 160 * i, 0x11111111)
    add(t, "198.18.10.1", 16000, "198.18.20.2", 16002, p)
    if i == 100:
        add(t + 0.0005, "198.18.10.1", 16000, "198.18.20.2", 16002, p)  # duplicate
# Stream B: G.729 the other way, 20 ms (20 bytes), with a sequence wrap and one packet
# reordered behind its successor.
order = list(range(200))
order[120], order[121] = order[121], order[120]
for n, i in enumerate(order):
    t = t0 + 0.005 + n * 0.020 + (0.004 if n % 5 == 0 else 0.0)
    add(t, "198.18.20.2", 16002, "198.18.10.1", 16000, rtp(18, 65436 + i, 160 * i, 0x22222222, 20))
# Stream C: PCMU; a gap of 30 sequence numbers (lost), then a packet with the marker bit.
for i in list(range(50)) + list(range(80, 130)):
    t = t0 + 0.010 + i * 0.020 + (0.002 if i % 3 == 0 else 0.0)
    add(t, "198.18.30.3", 20000, "198.18.40.4", 30000,
        rtp(0, 7 + i, 3000 + 160 * i, 0x33333333, marker=(i == 80)))

frames.sort(key=lambda f: f[0])
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for t, data in frames:
        sec = int(t)
        usec = int(round((t - sec) * 1e6))
        if usec >= 1000000:
            sec, usec = sec + 1, usec - 1000000
        f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
PY

for f in "$sip_pcap" "$work/rtp_synthetic.pcap"; do
  out="$work/$(basename "$f").json"
  "$wiremeter" --pcap "$f" --report json --plugin-dir "$plugin_dir" \
    >"$out" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  tshark -r "$f" -q -o rtp.heuristic_rtp:TRUE -z rtp,streams >"$work/$(basename "$f").rtp" 2>/dev/null
done
tshark -r "$sip_pcap" -q -z sip,stat >"$work/sip.stat" 2>/dev/null
tshark -r "$sip_pcap" -Y sip -T fields -E separator='|' -e frame.time_epoch -e sip.Call-ID \
  -e sip.Method -e sip.Status-Code -e sip.CSeq.method -e sip.from.addr -e sip.to.addr \
  -e sip.response-time >"$work/sip.fields" 2>/dev/null

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$work" "$known" <<'PY'
import collections, json, os, re, sys
import golden_lib

work, known_file = sys.argv[1:3]
found = {}    # (capture, item) -> (ours, tshark)
agree = collections.Counter()
total = collections.Counter()

def compare(capture, item, ours, theirs, tol=None):
    total[capture] += 1
    same = (abs(ours - theirs) <= tol) if (tol is not None and ours is not None
                                          and theirs is not None) else ours == theirs
    if same:
        agree[capture] += 1
    else:
        found[(capture, item)] = (str(ours), str(theirs))

def report(name):
    with open(os.path.join(work, name + ".json")) as f:
        r = json.load(f)
    if "voip" not in r["plugins"]:
        sys.exit(f"FAIL: {name}: no voip plugin in the report (refused: {r['refused_plugins']})")
    return r["plugins"]["voip"]

# --- RTP streams: tshark's table, one row per stream.
ROW = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+"
                 r"(\d+)\s+(-?\d+)\s+\(\S+\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+"
                 r"([\d.]+)\s+([\d.]+)")
def rtp_compare(capture, name):
    voip = report(name)
    ours = {(s["src"], s["src_port"], s["dst"], s["dst_port"], s["ssrc"].upper()): s
            for s in voip["streams"]}
    theirs = {}
    with open(os.path.join(work, name + ".rtp")) as f:
        for line in f:
            m = ROW.match(line)
            if m:
                g = m.groups()
                theirs[(g[0], int(g[1]), g[2], int(g[3]), "0X" + g[4][2:].upper())] = dict(
                    codec=g[5], packets=int(g[6]), lost=int(g[7]), mean_jitter=float(g[12]),
                    max_jitter=float(g[13]))
    for key in sorted(set(ours) | set(theirs)):
        label = "%s:%d>%s:%d %s" % key
        if key not in ours or key not in theirs:
            compare(capture, f"stream {label}", "present" if key in ours else "absent",
                    "present" if key in theirs else "absent")
            continue
        o, t = ours[key], theirs[key]
        compare(capture, f"stream {label} packets", o["packets"], t["packets"])
        compare(capture, f"stream {label} lost", o["lost"], t["lost"])
        # tshark prints 3 decimals; ours are rounded to 3 too.
        compare(capture, f"stream {label} max_jitter_ms", o["max_jitter_ms"], t["max_jitter"],
                0.0011)
        compare(capture, f"stream {label} mean_jitter_ms", o["mean_jitter_ms"], t["mean_jitter"],
                0.0011)

rtp_compare("ndpi/sip.pcap", "sip.pcap")
rtp_compare("synthetic", "rtp_synthetic.pcap")

# --- SIP statistics (tshark -z sip,stat).
voip = report("sip.pcap")
stat = open(os.path.join(work, "sip.stat")).read()
compare("ndpi/sip.pcap", "sip messages", voip["sip_messages"],
        int(re.search(r"Number of SIP messages: (\d+)", stat).group(1)))
codes = {int(c): int(n) for c, n in re.findall(r"SIP (\d{3}) .*?:\s+(\d+) Packets", stat)}
for code in sorted(set(codes) | {int(c) for c in voip["responses"]}):
    compare("ndpi/sip.pcap", f"responses {code}", voip["responses"].get(str(code), 0),
            codes.get(code, 0))
methods = {m: int(n) for m, n in re.findall(r"^\s+([A-Z]+)\s+:\s+(\d+) Packets", stat, re.M)}
for m in sorted(set(methods) | {k for k, v in voip["requests"].items() if v}):
    compare("ndpi/sip.pcap", f"requests {m}", voip["requests"].get(m, 0), methods.get(m, 0))
# tshark counts a request again as resent except ACK and CANCEL, and a final response repeated.
resent = int(re.search(r"Number of resent SIP messages: (\d+)", stat).group(1))
ours_resent = voip["response_retransmissions"] + sum(
    n for m, n in voip["request_retransmissions"].items() if m not in ("ACK", "CANCEL"))
compare("ndpi/sip.pcap", "resent messages (ACK and CANCEL aside)", ours_resent, resent)
compare("ndpi/sip.pcap", "CANCEL retransmissions", voip["request_retransmissions"].get("CANCEL", 0),
        0)

# --- Calls, re-derived from tshark's fields.
calls = {}
for line in open(os.path.join(work, "sip.fields")):
    ts, cid, method, code, cseq_method, frm, to, rtime = line.rstrip("\n").split("|")
    c = calls.get(cid)
    if method == "INVITE" and c is None:
        c = calls[cid] = dict(caller=frm, callee=to, start=float(ts), final=None, cancel=False,
                              ring=None)
    if c is None:
        continue
    if method == "CANCEL" and c["final"] is None:
        c["cancel"] = True
    if method == "INVITE" and c["final"] and c["final"] >= 300:
        c.update(final=None, cancel=False)  # the next attempt (after 401/407)
    if code and cseq_method == "INVITE":
        code = int(code)
        if 100 < code < 200 and c["ring"] is None and rtime:
            c["ring"] = int(rtime)
        if code >= 200:
            c["final"] = code
for cid, c in calls.items():
    c["state"] = ("established" if c["final"] and c["final"] < 300 else
                  "cancelled" if c["final"] and c["cancel"] else
                  "failed" if c["final"] else "ringing" if c["ring"] is not None else "trying")
ours = {c["call_id"]: c for c in voip["calls"]}
for cid in sorted(set(ours) | set(calls)):
    if cid not in ours or cid not in calls:
        compare("ndpi/sip.pcap", f"call {cid}", cid in ours, cid in calls)
        continue
    o, t = ours[cid], calls[cid]
    compare("ndpi/sip.pcap", f"call {cid} caller", o["caller"], t["caller"])
    compare("ndpi/sip.pcap", f"call {cid} callee", o["callee"], t["callee"])
    compare("ndpi/sip.pcap", f"call {cid} start", round(o["start"], 6), round(t["start"], 6))
    compare("ndpi/sip.pcap", f"call {cid} final_code", o["final_code"], t["final"])
    compare("ndpi/sip.pcap", f"call {cid} state", o["state"], t["state"])
    # tshark's response time is whole milliseconds, cut rather than rounded.
    compare("ndpi/sip.pcap", f"call {cid} ringing_ms", o["ringing_ms"], t["ring"], 1.0)
streams_in_calls = sum(len(c["streams"]) for c in voip["calls"])
compare("ndpi/sip.pcap", "streams tied to a call by SDP", streams_in_calls, len(voip["streams"]))

for capture in total:
    n_known = sum(1 for k in found if k[0] == capture)
    print(f"{capture:16} {agree[capture]} of {total[capture]} values agree with tshark, "
          f"{n_known} known differences")
# --- Known differences: capture, item, ours, tshark, reason.
golden_lib.check_known_values(found, known_file, 2, 2)
print(f"PASS ({len(found)} known differences)")
PY
