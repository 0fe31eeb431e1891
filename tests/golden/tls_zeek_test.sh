#!/usr/bin/env bash
# Golden test of the tls plugin against published and computed results.
#
# - zeek/tls_tls-conn-with-extensions.pcap against Zeek's ssl.log (read by its #fields header):
#   version, cipher, curve, server_name, resumed, established, cert_chain_fps, sni_matches_cert.
#   (The zeek/quic_* capture's ssl.log describes a QUIC handshake: the quic module's business.)
# - Every TLS flow of nDPI's captures against tshark, run here: the SNI of each ClientHello and
#   the negotiated version (supported_versions over the legacy field) and cipher suite of each
#   ServerHello, per TCP connection; and against ndpiReader 4.2's published .out files: the
#   Hostname/SNI, TLS version, cipher and certificate validity of each TLS flow it printed.
#
# Prints the agreement per capture and source. Passes when the fields that differ are exactly
# those listed in the known-differences file (with the reason for each), so that a new
# difference fails, and so does a fixed one until it is removed from the list.
#
# Usage: tls_zeek_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
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
ndpi=(ndpi/443-curl.pcap ndpi/google_ssl.pcap ndpi/iphone.pcap ndpi/1kxun.pcap ndpi/signal.pcap
      ndpi/6in4tunnel.pcap ndpi/anyconnect-vpn.pcap ndpi/http_ipv6.pcap ndpi/dns_doh.pcap)
for f in zeek/tls_tls-conn-with-extensions.pcap "${ndpi[@]}"; do
  [ -f "$dir/$f" ] || fail "missing capture $dir/$f"
  out="$work/${f//\//_}"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out.json" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  case $f in ndpi/*)
    # The addresses and TCP ports; with both an IPv4 and an IPv6 header (6in4) the IPv6 one is
    # the inner, which is what the plugin reports.
    tshark -r "$dir/$f" -Y 'tls.handshake.type == 1' -T fields -E separator=/t -E occurrence=l \
      -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
      -e tls.handshake.extensions_server_name >"$out.client_hello" 2>/dev/null
    tshark -r "$dir/$f" -Y 'tls.handshake.type == 2' -T fields -E separator=/t -E occurrence=l \
      -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport \
      -e tls.handshake.version -e tls.handshake.extensions.supported_version \
      -e tls.handshake.ciphersuite >"$out.server_hello" 2>/dev/null ;;
  esac
done
# Cipher suite names as Wireshark knows them, for tshark's numeric output.
tshark -G values 2>/dev/null | grep -P '^V\ttls.handshake.ciphersuite\t' >"$work/ciphers"

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" "${ndpi[@]}" <<'PY'
import collections, ipaddress, json, os, re, sys
import golden_lib

captures, work, known_file = sys.argv[1:4]
ndpi_captures = sys.argv[4:]

def base(capture):
    return os.path.join(work, capture.replace("/", "_"))

def tls_report(capture):
    with open(base(capture) + ".json") as f:
        r = json.load(f)
    if "tls" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no tls plugin in the report (refused: {r['refused_plugins']})")
    t = r["plugins"]["tls"]
    if t["connections_dropped"]:
        sys.exit(f"FAIL: {capture}: {t['connections_dropped']} connections dropped")
    bad = {k: v for k, v in t["malformed"].items() if v}
    if bad:
        sys.exit(f"FAIL: {capture}: malformed {bad}")
    return t

def addr(a):
    return str(ipaddress.ip_address(a))

def key(c_addr, c_port, s_addr, s_port):
    return f"{addr(c_addr)}:{c_port} > {addr(s_addr)}:{s_port}"

def ours_by_flow(t):
    return {key(c["client"], c["client_port"], c["server"], c["server_port"]): c
            for c in t["connections"]}

def dash(v):
    if v is None or v == "":
        return "-"
    if v is True:
        return "T"
    if v is False:
        return "F"
    return str(v)

found = {}   # (capture, source, flow, field) -> (ours, reference)
stats = collections.OrderedDict()  # (capture, source) -> [compared, agreeing]

def compare(capture, source, flow, field, ours, ref):
    s = stats.setdefault((capture, source), [0, 0])
    s[0] += 1
    if ours == ref:
        s[1] += 1
    else:
        found[(capture, source, flow, field)] = (ours, ref)

# --- Zeek: ssl.log, TSV with its columns named in "#fields".
capture = "zeek/tls_tls-conn-with-extensions.pcap"
ours = ours_by_flow(tls_report(capture))
fields = None
with open(os.path.join(captures, "zeek/tls_tls-conn-with-extensions.ssl.log")) as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
            continue
        if line.startswith("#") or not line:
            continue
        v = dict(zip(fields, line.split("\t")))
        flow = key(v["id.orig_h"], v["id.orig_p"], v["id.resp_h"], v["id.resp_p"])
        c = ours.get(flow)
        mine = {} if c is None else {
            "version": dash(c["version"]), "cipher": dash(c["cipher"]), "curve": dash(c["curve"]),
            "server_name": dash(c["server_name"]), "resumed": dash(c["resumed"]),
            "established": dash(c["established"]),
            "cert_chain_fps": ",".join(c["cert_chain_fps"]) or "-",
            "sni_matches_cert": dash(c["sni_matches_cert"])}
        for field in ("version", "cipher", "curve", "server_name", "resumed", "established",
                      "cert_chain_fps", "sni_matches_cert"):
            compare(capture, "zeek", flow, field, mine.get(field, "(no connection)"), v[field])

# --- tshark, computed by the script: per connection, the ClientHello's SNI and the last
# ServerHello's version and suite (a HelloRetryRequest comes first).
VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12",
            0x0304: "TLSv13"}
ciphers = {}
with open(os.path.join(work, "ciphers")) as f:
    for line in f:
        _, _, code, name = line.rstrip("\n").split("\t")
        ciphers[int(code, 0)] = name

def rows(path):
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 7:
                yield p

for capture in ndpi_captures:
    ours = ours_by_flow(tls_report(capture))
    ref = {}
    for p in rows(base(capture) + ".client_hello"):
        flow = key(p[1] or p[0], p[2], p[4] or p[3], p[5])
        ref.setdefault(flow, {})["server_name"] = p[6] or "-"
    for p in rows(base(capture) + ".server_hello"):
        flow = key(p[4] or p[3], p[5], p[1] or p[0], p[2])
        version = int(p[7] or p[6], 16)
        ref.setdefault(flow, {})["version"] = VERSIONS.get(version, f"unknown-{version}")
        ref[flow]["cipher"] = ciphers.get(int(p[8], 0), p[8])
    for flow, want in sorted(ref.items()):
        c = ours.get(flow)
        for field, value in sorted(want.items()):
            compare(capture, "tshark", flow, field,
                    "(no connection)" if c is None else dash(c[field]), value)

    # ndpiReader 4.2: "TCP a:p <-> b:p [proto: ..TLS..]...[Hostname/SNI: x]...[TLSv1.2]...
    # [Validity: 2019-12-17 01:17:28 - 2020-03-16 01:17:28][Cipher: TLS_...]". Its flows are
    # printed client first when it saw the client start; match either way round.
    NDPI = re.compile(r"^\t\d+\tTCP (\S+):(\d+) <-> (\S+):(\d+) (.*)$")
    NDPI_VERSIONS = {"TLSv1": "TLSv10", "TLSv1.1": "TLSv11", "TLSv1.2": "TLSv12",
                     "TLSv1.3": "TLSv13", "SSLv3": "SSLv3"}
    with open(os.path.join(captures, capture + ".ndpi42.out")) as f:
        for line in f:
            m = NDPI.match(line)
            if not m or "TLS" not in m.group(5).split("]")[0]:
                continue
            a, ap, b, bp, rest = m.groups()
            a, b = a.strip("[]"), b.strip("[]")
            flow = key(a, ap, b, bp)
            if flow not in ours and key(b, bp, a, ap) in ours:
                flow = key(b, bp, a, ap)
            c = ours.get(flow)
            def theirs(pattern):
                mm = re.search(pattern, rest)
                return mm.group(1) if mm else None
            sni = theirs(r"\[Hostname/SNI: ([^\]]+)\]")
            version = theirs(r"\[(TLSv1(?:\.[123])?|SSLv3)\]")
            cipher = theirs(r"\[Cipher: ([^\]]+)\]")
            validity = theirs(r"\[Validity: ([^\]]+)\]")
            if sni:
                compare(capture, "ndpi", flow, "server_name",
                        "(no connection)" if c is None else dash(c["server_name"]), sni)
            if version:
                compare(capture, "ndpi", flow, "version",
                        "(no connection)" if c is None else dash(c["version"]),
                        NDPI_VERSIONS[version])
            if cipher:
                compare(capture, "ndpi", flow, "cipher",
                        "(no connection)" if c is None else dash(c["cipher"]), cipher)
            if validity:
                mine = "(no certificate)"
                if c is not None and c["certificate"]:
                    cert = c["certificate"]
                    fmt = lambda s: s.replace("T", " ").rstrip("Z")
                    mine = f"{fmt(cert['not_before'])} - {fmt(cert['not_after'])}"
                compare(capture, "ndpi", flow, "validity", mine, validity)

print(f"{'capture':40} {'source':7} {'fields':>6} {'agree':>6}  agreement")
for (capture, source), (n, agree) in stats.items():
    print(f"{capture:40} {source:7} {n:6} {agree:6}  {100.0 * agree / max(n, 1):6.2f}%")

# --- Known differences: capture, source, flow, field, ours, reference, reason.
golden_lib.check_known_values(found, known_file, 4, 2)
total = sum(n for n, _ in stats.values())
agree = sum(a for _, a in stats.values())
print(f"PASS: {agree} of {total} fields agree; {len(found)} known differences")
PY
