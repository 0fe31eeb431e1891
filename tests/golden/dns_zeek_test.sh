#!/usr/bin/env bash
# Golden test of the dns plugin against published results.
#
# - zeek/wikipedia.pcap against Zeek's zeek/wikipedia.dns.log: the multiset of transactions as
#   (query, qtype, rcode, answers, TTLs), read by the log's own #fields header.
# - tcpdump/dns_udp.pcap against tcpdump's dns_udp.out (`tcpdump -n -r`): the same, plus id,
#   client, server and the response time between tcpdump's two timestamps.
# - The DNS captures of nDPI's suite (dns_ambiguous_names, dns_fragmented, dns_doh): analyzed
#   without error, with the counts that tshark's dissector gives (reassembling the fragmented
#   responses, which the plugin reads from their first fragment), and the query name of every
#   DNS flow that ndpiReader 4.2 published.
#
# Prints the agreement per capture. Passes when the transactions that differ are exactly those
# listed in the known-differences file (with the reason for each), so that a new difference
# fails, and so does a fixed one until it is removed from the list.
#
# Usage: dns_zeek_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
# Exits 77 (skipped) without the shared captures or without root (DPDK needs it).
set -euo pipefail
wiremeter=$1 plugin_dir=$2 captures=$3 known=$4

# skip, fail, need_cmd: shared with the integration tests.
. "$(cd "$(dirname "$0")/../integration" && pwd)/lib.sh"

[ -d "$captures" ] || skip "no shared captures at $captures"
[ "$(id -u)" = 0 ] || skip "needs root (DPDK)"
need_cmd python3
[ -f "$known" ] || fail "missing known-differences file $known"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$(cd "$captures" && pwd)
files=(zeek/wikipedia.pcap tcpdump/dns_udp.pcap ndpi/dns_ambiguous_names.pcap
       ndpi/dns_fragmented.pcap ndpi/dns_doh.pcap)
for f in "${files[@]}"; do
  [ -f "$dir/$f" ] || fail "missing capture $dir/$f"
  out="$work/${f//\//_}.json"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
done

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" <<'PY'
import golden_lib
import collections, ipaddress, json, os, re, sys

captures, work, known_file = sys.argv[1:4]

def report(capture):
    with open(os.path.join(work, capture.replace("/", "_") + ".json")) as f:
        r = json.load(f)
    if "dns" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no dns plugin in the report (refused: {r['refused_plugins']})")
    dns = r["plugins"]["dns"]
    if dns["transactions_dropped"]:
        sys.exit(f"FAIL: {capture}: {dns['transactions_dropped']} transactions dropped")
    return dns

def dash(v):
    return "-" if v is None or v == "" else str(v)

def ours(dns, extra=False):
    rows = []
    for t in dns["transactions"]:
        row = (t["query"], dash(t["qtype"]), dash(t["rcode"]),
               ",".join(t["answers"]) or "-", ",".join(str(x) for x in t["ttls"]) or "-")
        if extra:
            rtt = "-" if t["rtt_ms"] is None else f"{t['rtt_ms']:.3f}"
            row += (str(t["id"]), t["client"], t["server"], rtt)
        rows.append(row)
    return collections.Counter(rows)

found = {}  # (capture, side, fields...) -> count
stats = {}  # capture -> (reference transactions, agreeing)

def compare(capture, want, have):
    agree = sum((want & have).values())
    for side, diff in (("reference-only", want - have), ("ours-only", have - want)):
        for row, n in diff.items():
            found[(capture, side) + row] = n
    total = sum(want.values())
    stats[capture] = (total, agree)
    print(f"{capture:32} {total:6} {agree:6} {sum(have.values()):6}  "
          f"{100.0 * agree / max(total, 1):6.2f}%")

print(f"{'capture':32} {'ref':>6} {'agree':>6} {'ours':>6}  agreement")

# --- Zeek: dns.log, TSV with its columns named in "#fields".
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
            ttls = "-" if v["TTLs"] == "-" else ",".join(
                str(int(float(x))) for x in v["TTLs"].split(","))
            rows[(v["query"], v["qtype_name"], v["rcode_name"], v["answers"], ttls)] += 1
    return rows

compare("zeek/wikipedia.pcap", zeek_log(os.path.join(captures, "zeek/wikipedia.dns.log")),
        ours(report("zeek/wikipedia.pcap")))

# --- tcpdump: "  1  2020-06-10 09:19:54.740079 IP 192.168.1.11.43966 > 209.87.249.18.53:
#     22836+ [1au] A? www.tcpdump.org. (56)" and the response
#     "... 22836*- 2/2/5 A 192.139.46.66, A 198.199.88.104 (224)".
LINE = re.compile(r"^\s*\d+\s+\S+ (\d+):(\d+):([\d.]+) IP6? (\S+)\.(\d+) > (\S+)\.(\d+): "
                  r"(\d+)(.*)$")
RCODES = {"FormErr": "FORMERR", "ServFail": "SERVFAIL", "NXDomain": "NXDOMAIN",
          "NotImp": "NOTIMP", "Refused": "REFUSED"}

def tcpdump_out(path):
    pending, rows = {}, collections.Counter()
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            h, mi, s, src, sport, dst, dport, ident, rest = m.groups()
            ts = int(h) * 3600 + int(mi) * 60 + float(s)
            q = re.search(r" (\S+)\? (\S+)\. \(", rest)
            counts = re.search(r" (\d+)/(\d+)/(\d+)(.*) \(\d+\)$", rest)
            if q and not counts:  # a query
                pending[(ident, src, sport)] = (ts, q.group(2).lower(), q.group(1))
                continue
            t0, name, qtype = pending.pop((ident, dst, dport))
            rcode = next((v for k, v in RCODES.items() if f" {k}" in rest.split("/")[0]),
                         "NOERROR")
            answers = [a.strip().split(" ", 1) for a in counts.group(4).split(",") if a.strip()]
            values = ",".join(v.rstrip(".") for _, v in answers) or "-"
            # tcpdump prints no TTLs; compare ours against "-" by leaving them out (see below).
            rows[(name, qtype, rcode, values, "*", ident, dst, src,
                  f"{(ts - t0) * 1000:.3f}")] += 1
    return rows

have = collections.Counter()
for row, n in ours(report("tcpdump/dns_udp.pcap"), extra=True).items():
    have[row[:4] + ("*",) + row[5:]] += n
compare("tcpdump/dns_udp.pcap", tcpdump_out(os.path.join(captures, "tcpdump/dns_udp.out")),
        have)

# --- nDPI's DNS captures: sanity. Expected counts from tshark's dissector on the same files
# (`tshark -Y 'dns.flags.response == 0'` / `== 1`; it reassembles the IP fragments the plugin
# reads the first of), and the DNS flows' hostnames from ndpiReader 4.2's published output.
EXPECT = {
    "ndpi/dns_ambiguous_names.pcap": dict(queries=10, responses=10, unanswered=0,
                                          ip_fragment=0, errors=1),   # one NXDOMAIN
    "ndpi/dns_fragmented.pcap": dict(queries=22, responses=21, unanswered=1,  # a retransmission
                                     ip_fragment=7, errors=1),   # 7 fragmented; one SERVFAIL
    "ndpi/dns_doh.pcap": dict(queries=0, responses=0, unanswered=0, ip_fragment=0, errors=0),
}
NDPI_FLOW = re.compile(r"^\t\d+\t(?:UDP|TCP) .*:53 .*\[proto: 5[./][^\]]*\].*"
                       r"\[Hostname/SNI: ([^\]]+)\]")
ok = True
for capture, want in EXPECT.items():
    dns = report(capture)
    got = dict(queries=dns["queries"], responses=dns["responses"],
               unanswered=dns["unanswered"], ip_fragment=dns["incomplete"]["ip_fragment"],
               errors=sum(n for rc, n in dns["rcodes"].items() if rc != "NOERROR"))
    malformed = {k: v for k, v in dns["malformed"].items() if v}
    hostnames = set()
    with open(os.path.join(captures, capture + ".ndpi42.out")) as f:
        for line in f:
            m = NDPI_FLOW.match(line)
            if m:
                hostnames.add(m.group(1))
    # ndpiReader shows characters that are not valid in host names as '_'.
    queries = {re.sub(r"[^a-z0-9._-]", "_", t["query"]) for t in dns["transactions"]}
    missing = sorted(hostnames - queries)
    status = "ok" if got == want and not malformed and not missing else "FAIL"
    ok = ok and status == "ok"
    print(f"{capture:32} {status}: {got}, {len(hostnames)} nDPI hostnames"
          + (f", malformed {malformed}" if malformed else "")
          + (f", nDPI hostnames not queried: {missing}" if missing else "")
          + ("" if got == want else f", expected {want}"))

# --- Known differences: "capture<TAB>side<TAB>count<TAB>the row's fields<TAB>reason", where
# the row is what the NEW DIFFERENCE line prints (Zeek: query, qtype, rcode, answers, TTLs);
# '#' starts a comment.
golden_lib.check_known(found, known_file, 2)
if not ok:
    sys.exit("FAIL: see the lines above")
for capture, (total, agree) in stats.items():
    known_n = sum(n for k, n in found.items() if k[0] == capture and k[1] == "reference-only")
    print(f"{capture}: {agree} of {total} reference transactions agree, {known_n} known "
          f"differences, so {agree} of {total - known_n} where both analyze the messages")
print(f"PASS ({sum(found.values())} transactions in {len(found)} known differences)")
PY
