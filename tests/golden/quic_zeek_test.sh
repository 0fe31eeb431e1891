#!/usr/bin/env bash
# Golden test of the quic plugin against published results.
#
# Per QUIC connection (client address and port), the plugin's report against:
# - Zeek: zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap's quic.log (version,
#   server_name, client_protocol, client_initial_dcid, client_scid, server_scid) and ssl.log
#   (server_name).
# - nDPI 4.2: ndpi/quic-29.pcap, ndpi/youtube_quic.pcap, ndpi/quic_q46.pcap: the
#   "Hostname/SNI" (and "ALPN" where given) of each QUIC flow in the published .ndpi42.out.
# - tcpdump: tcpdump/quic_handshake.pcap's quic_handshake.out (`tcpdump -v`): the DCID of the
#   client's first Initial, and the datagrams by their first packet's type (initial, handshake,
#   protected = short header), which the plugin counts per packet (none is coalesced there).
# - tshark, computed here on every capture above: version and server name of the first
#   ClientHello of each IETF QUIC flow (`-Y quic`, which decrypts Initials as the plugin does),
#   and the SNI tag of gQUIC CHLOs (`-Y gquic`).
#
# Prints the agreement per check. Passes when the checks that differ are exactly those listed in
# the known-differences file (with the reason for each), so that a new difference fails, and so
# does a fixed one until it is removed from the list.
#
# Usage: quic_zeek_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
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
files=(zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap ndpi/quic-29.pcap
       ndpi/youtube_quic.pcap ndpi/quic_q46.pcap tcpdump/quic_handshake.pcap)
for f in "${files[@]}"; do
  [ -f "$dir/$f" ] || fail "missing capture $dir/$f"
  out="$work/${f//\//_}"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out.json" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  # The first ClientHello of each IETF QUIC flow, and every gQUIC CHLO with an SNI tag.
  tshark -r "$dir/$f" -Y 'quic && tls.handshake.type == 1' -T fields -E separator='|' \
    -e ip.src -e ipv6.src -e udp.srcport -e quic.version \
    -e tls.handshake.extensions_server_name -e tls.handshake.extensions_alpn_str \
    >"$out.tshark_quic" 2>/dev/null
  tshark -r "$dir/$f" -Y 'gquic.tag.sni' -T fields -E separator='|' \
    -e ip.src -e ipv6.src -e udp.srcport -e gquic.version -e gquic.tag.sni \
    >"$out.tshark_gquic" 2>/dev/null
done

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" "${files[@]}" <<'PY'
import collections, json, os, re, sys
import golden_lib

captures, work, known_file = sys.argv[1:4]
files = sys.argv[4:]

def base(capture):
    return os.path.join(work, capture.replace("/", "_"))

def ours(capture):
    with open(base(capture) + ".json") as f:
        r = json.load(f)
    if "quic" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no quic plugin in the report (refused: {r['refused_plugins']})")
    q = r["plugins"]["quic"]
    if q["connections_recycled"] or any(q["overflow"].values()):
        sys.exit(f"FAIL: {capture}: table overflow {q['overflow']}")
    return q

def by_client(q):
    return {(c["client"], c["client_port"]): c for c in q["connection_list"]}

found = {}   # (capture, source, flow, field) -> (reference, ours)
rows = []    # (capture, source, checks, agreeing)

def check(capture, source, flow, field, want, have):
    key = (capture, source, flow, field)
    agree = want == have
    if not agree:
        found[key] = (str(want), str(have))
    return agree

def tally(capture, source, results):
    rows.append((capture, source, len(results), sum(results)))

# --- Zeek: quic.log and ssl.log, TSV with their columns named in "#fields".
def zeek_log(path):
    out, fields = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line and not line.startswith("#"):
                out.append(dict(zip(fields, line.split("\t"))))
    return out

ZEEK_VERSION = {"v1": "1", "v2": "quicv2"}  # Zeek's names; drafts are "draft-NN" in both
def zv(v):
    return "" if v in ("-", "(empty)") else v

capture = "zeek/quic_chromium-115.0.5790.110-api-cirrus-com.pcap"
conns = by_client(ours(capture))
stem = os.path.join(captures, capture[:-len(".pcap")])
res = []
for z in zeek_log(stem + ".quic.log"):
    flow = f"{z['id.orig_h']}:{z['id.orig_p']}"
    c = conns.get((z["id.orig_h"], int(z["id.orig_p"])))
    if c is None:
        res.append(check(capture, "zeek quic.log", flow, "connection", "present", "missing"))
        continue
    res.append(check(capture, "zeek quic.log", flow, "version", z["version"],
                     ZEEK_VERSION.get(c["version"], c["version"])))
    res.append(check(capture, "zeek quic.log", flow, "server_name", zv(z["server_name"]),
                     c["server_name"] or ""))
    res.append(check(capture, "zeek quic.log", flow, "client_protocol",
                     zv(z["client_protocol"]), c["client_protocol"] or ""))
    res.append(check(capture, "zeek quic.log", flow, "client_initial_dcid",
                     zv(z["client_initial_dcid"]), c["client_initial_dcid"]))
    res.append(check(capture, "zeek quic.log", flow, "client_scid", zv(z["client_scid"]),
                     c["client_scid"]))
    res.append(check(capture, "zeek quic.log", flow, "server_scid", zv(z["server_scid"]),
                     c["server_scid"] or ""))
tally(capture, "zeek quic.log", res)
res = []
for z in zeek_log(stem + ".ssl.log"):
    flow = f"{z['id.orig_h']}:{z['id.orig_p']}"
    c = conns.get((z["id.orig_h"], int(z["id.orig_p"])))
    res.append(check(capture, "zeek ssl.log", flow, "server_name", zv(z["server_name"]),
                     (c or {}).get("server_name") or ""))
tally(capture, "zeek ssl.log", res)

# --- nDPI 4.2: the QUIC flows of the published ndpiReader output.
FLOW = re.compile(r"^\s*\d+\s+UDP (\S+):(\d+) <-> (\S+):(\d+) \[proto: [\d.]+/QUIC")
for capture in ("ndpi/quic-29.pcap", "ndpi/youtube_quic.pcap", "ndpi/quic_q46.pcap"):
    conns = by_client(ours(capture))
    res = []
    with open(os.path.join(captures, capture + ".ndpi42.out")) as f:
        for line in f:
            m = FLOW.match(line)
            if not m:
                continue
            a, ap, b, bp = m.group(1), int(m.group(2)), m.group(3), int(m.group(4))
            c = conns.get((a, ap)) or conns.get((b, bp))
            flow = f"{a}:{ap}"
            if c is None:
                res.append(check(capture, "ndpiReader", flow, "connection", "present", "missing"))
                continue
            sni = re.search(r"\[Hostname/SNI: ([^\]]*)\]", line)
            res.append(check(capture, "ndpiReader", flow, "server_name",
                             sni.group(1) if sni else "", c["server_name"] or ""))
            alpn = re.search(r"\[ALPN: ([^\]]*)\]", line)
            if alpn:
                res.append(check(capture, "ndpiReader", flow, "alpn", alpn.group(1),
                                 ",".join(c["alpn"])))
    tally(capture, "ndpiReader", res)

# --- tcpdump -v: "quic, initial, dcid 84acac06b42ed863, length 1182" and the packet types.
capture = "tcpdump/quic_handshake.pcap"
q = ours(capture)
LINE = re.compile(r"^\s*\d+\s.* (\S+)\.(\d+) > (\S+)\.(\d+): .*quic, (\w+)(?:, dcid (\w+))?")
types, first_dcid = collections.Counter(), {}
with open(os.path.join(captures, "tcpdump/quic_handshake.out")) as f:
    for line in f:
        m = LINE.match(line)
        if not m:
            continue
        src, sport, kind, dcid = m.group(1), int(m.group(2)), m.group(5), m.group(6)
        types[kind] += 1
        if kind == "initial" and dcid and int(m.group(4)) == 443:
            first_dcid.setdefault((src, sport), dcid)
res = []
conns = by_client(q)
for (src, sport), dcid in first_dcid.items():
    c = conns.get((src, sport))
    res.append(check(capture, "tcpdump", f"{src}:{sport}", "client_initial_dcid", dcid,
                     c["client_initial_dcid"] if c else "missing"))
OUR_TYPE = {"initial": "initial", "handshake": "handshake", "protected": "short",
            "retry": "retry", "0rtt": "0rtt"}
for kind, n in sorted(types.items()):
    res.append(check(capture, "tcpdump", "all", f"packets:{kind}", n,
                     q["packets"].get(OUR_TYPE.get(kind, kind), 0)))
tally(capture, "tcpdump", res)

# --- tshark on every capture.
def tshark_rows(path):
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("|")
            if len(parts) >= 5:
                yield parts

for capture in files:
    conns = by_client(ours(capture))
    res, seen = [], set()
    for src4, src6, port, version, sni, alpn in tshark_rows(base(capture) + ".tshark_quic"):
        key = ((src4 or src6).split(",")[0], int(port.split(",")[0]))
        if key in seen:
            continue  # the first ClientHello per flow, as Zeek and the plugin report
        seen.add(key)
        c = conns.get(key)
        flow = f"{key[0]}:{key[1]}"
        if c is None:
            res.append(check(capture, "tshark", flow, "connection", "present", "missing"))
            continue
        res.append(check(capture, "tshark", flow, "version", version.split(",")[0],
                         c["version_number"]))
        res.append(check(capture, "tshark", flow, "server_name", sni, c["server_name"] or ""))
        res.append(check(capture, "tshark", flow, "alpn", alpn, ",".join(c["alpn"])))
    for src4, src6, port, version, sni in tshark_rows(base(capture) + ".tshark_gquic"):
        key = ((src4 or src6).split(",")[0], int(port.split(",")[0]))
        if key in seen:
            continue
        seen.add(key)
        c = conns.get(key)
        flow = f"{key[0]}:{key[1]}"
        if c is None:
            res.append(check(capture, "tshark", flow, "connection", "present", "missing"))
            continue
        if version:
            res.append(check(capture, "tshark", flow, "version", version, c["version"]))
        res.append(check(capture, "tshark", flow, "server_name", sni, c["server_name"] or ""))
    if res:
        tally(capture, "tshark", res)

print(f"{'capture':56} {'reference':15} {'checks':>6} {'agree':>6}  agreement")
for capture, source, n, agree in rows:
    print(f"{capture:56} {source:15} {n:6} {agree:6}  {100.0 * agree / max(n, 1):6.2f}%")

if not rows or sum(n for _, _, n, _ in rows) == 0:
    sys.exit("FAIL: nothing compared")
# --- Known differences: capture, source, flow, field, reference value, our value, reason.
golden_lib.check_known_values(found, known_file, 4, 2)
print(f"PASS: {len(found)} known difference(s), all listed")
PY
