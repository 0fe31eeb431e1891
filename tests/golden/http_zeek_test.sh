#!/usr/bin/env bash
# Golden test of the http plugin against published results.
#
# - zeek/wikipedia.pcap against Zeek's zeek/wikipedia.http.log: the multiset of transactions as
#   (trans_depth, method, host, uri, referrer, version, user_agent, request_body_len,
#   response_body_len, status_code, status_msg, info_code), read by the log's own #fields header.
#   Zeek's `version` is the response's version when there is a response (it overwrites the
#   request's), so ours is compared the same way.
# - tcpdump/ipv4_tcp_http_xml.pcap against tcpdump's ipv4_tcp_http_xml.out (`tcpdump -v`): one
#   segment holding a whole response (the capture has no request): status line, Content-Length,
#   Content-Type, and the endpoints.
# - nDPI's captures with HTTP (1kxun, anyconnect-vpn, 6in4tunnel, iphone) and http_ipv6 (all TLS:
#   no plain HTTP at all) against tshark's dissector, run here: requests as (method, host, uri)
#   from `tshark -Y 'http.request && tcp'`, responses as status codes (1xx included) from
#   `-Y 'http.response && tcp'`. SSDP's HTTP over UDP is not HTTP over TCP and is left out.
#
# Prints the agreement per capture. Passes when the rows that differ are exactly those listed in
# the known-differences file (with the reason for each), so that a new difference fails, and so
# does a fixed one until it is removed from the list.
#
# Usage: http_zeek_test.sh WIREMETER PLUGIN_DIR CAPTURES_DIR KNOWN_DIFFERENCES
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
files=(zeek/wikipedia.pcap tcpdump/ipv4_tcp_http_xml.pcap ndpi/1kxun.pcap ndpi/anyconnect-vpn.pcap
       ndpi/6in4tunnel.pcap ndpi/iphone.pcap ndpi/http_ipv6.pcap)
for f in "${files[@]}"; do
  [ -f "$dir/$f" ] || fail "missing capture $dir/$f"
  out="$work/${f//\//_}.json"
  "$wiremeter" --pcap "$dir/$f" --report json --plugin-dir "$plugin_dir" \
    >"$out" 2>"$out.log" || { cat "$out.log" >&2; fail "wiremeter --pcap $f failed"; }
  case $f in
    ndpi/*)
      tshark -r "$dir/$f" -Y 'http.request && tcp' -T fields -E separator=/t \
        -e http.request.method -e http.host -e http.request.uri \
        >"$work/${f//\//_}.requests" 2>/dev/null || fail "tshark failed on $f"
      tshark -r "$dir/$f" -Y 'http.response && tcp' -T fields -e http.response.code \
        >"$work/${f//\//_}.responses" 2>/dev/null || fail "tshark failed on $f"
      ;;
  esac
done

PYTHONPATH="$(cd "$(dirname "$0")" && pwd)" python3 - "$dir" "$work" "$known" <<'PY'
import golden_lib
import collections, json, os, re, sys

captures, work, known_file = sys.argv[1:4]

def base(capture):
    return os.path.join(work, capture.replace("/", "_"))

def report(capture):
    with open(base(capture) + ".json") as f:
        r = json.load(f)
    if "http" not in r["plugins"]:
        sys.exit(f"FAIL: {capture}: no http plugin in the report (refused: {r['refused_plugins']})")
    http = r["plugins"]["http"]
    if http["transactions_dropped"]:
        sys.exit(f"FAIL: {capture}: {http['transactions_dropped']} transactions dropped")
    malformed = {k: v for k, v in http["malformed"].items() if v}
    if malformed:
        sys.exit(f"FAIL: {capture}: malformed messages {malformed}")
    return http

def dash(v):
    return "-" if v is None or v == "" else str(v)

found = {}  # (capture, side, fields...) -> count
stats = {}  # capture -> (reference rows, agreeing)

def compare(capture, want, have):
    agree = sum((want & have).values())
    for side, diff in (("reference-only", want - have), ("ours-only", have - want)):
        for row, n in diff.items():
            found[(capture, side) + row] = n
    total = sum(want.values())
    stats[capture] = (total, agree)
    print(f"{capture:40} {total:6} {agree:6} {sum(have.values()):6}  "
          f"{100.0 * agree / max(total, 1):6.2f}%")

print(f"{'capture':40} {'ref':>6} {'agree':>6} {'ours':>6}  agreement")

# --- Zeek: http.log, TSV with its columns named in "#fields".
ZEEK_COLUMNS = ("trans_depth", "method", "host", "uri", "referrer", "version", "user_agent",
                "request_body_len", "response_body_len", "status_code", "status_msg", "info_code")

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
            rows[tuple(v[c] for c in ZEEK_COLUMNS)] += 1
    return rows

def ours_zeek(http):
    rows = collections.Counter()
    for t in http["transactions"]:
        version = t["response_version"] if t["status_code"] is not None else t["version"]
        rows[(dash(t["trans_depth"]), dash(t["method"]), dash(t["host"]), dash(t["uri"]),
              dash(t["referrer"]), dash(version), dash(t["user_agent"]),
              str(t["request_body_len"]), str(t["response_body_len"]), dash(t["status_code"]),
              dash(t["status_msg"]), dash(t["info_code"]))] += 1
    return rows

compare("zeek/wikipedia.pcap", zeek_log(os.path.join(captures, "zeek/wikipedia.http.log")),
        ours_zeek(report("zeek/wikipedia.pcap")))

# --- tcpdump -v: "    10.21.11.94.80 > 10.114.101.120.5767: Flags [P.], ... length 605: HTTP"
# then the message, one line per header line, indented by a tab.
def tcpdump_out(path):
    rows = collections.Counter()
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"^\s+(\S+)\.(\d+) > (\S+)\.(\d+): .*: HTTP", line)
        if not m:
            continue
        server, sport, client, cport = m.groups()
        status = re.match(r"^\tHTTP/(\d\.\d) (\d{3}) ?(.*)$", lines[i + 1])
        if not status:
            continue
        headers = {}
        for h in lines[i + 2:]:
            if not h.startswith("\t") or not h.strip():
                break
            name, _, value = h[1:].partition(":")
            headers[name.strip().lower()] = value.strip()
        rows[(client, cport, server, sport, status.group(1), status.group(2), status.group(3),
              headers.get("content-length", "-"), headers.get("content-type", "-"))] += 1
    return rows

have = collections.Counter()
for t in report("tcpdump/ipv4_tcp_http_xml.pcap")["transactions"]:
    have[(t["client"], str(t["client_port"]), t["server"], str(t["server_port"]),
          dash(t["response_version"]), dash(t["status_code"]), dash(t["status_msg"]),
          str(t["response_body_len"]), dash(t["content_type"]))] += 1
compare("tcpdump/ipv4_tcp_http_xml.pcap",
        tcpdump_out(os.path.join(captures, "tcpdump/ipv4_tcp_http_xml.out")), have)

# --- tshark on nDPI's captures: requests (method, host, uri), then responses (status code).
for capture in ("ndpi/1kxun.pcap", "ndpi/anyconnect-vpn.pcap", "ndpi/6in4tunnel.pcap",
                "ndpi/iphone.pcap", "ndpi/http_ipv6.pcap"):
    http = report(capture)
    want = collections.Counter()
    with open(base(capture) + ".requests") as f:
        for line in f:
            method, host, uri = (line.rstrip("\n").split("\t") + ["", "", ""])[:3]
            want[("request", method, dash(host), uri)] += 1
    with open(base(capture) + ".responses") as f:
        for line in f:
            if line.strip():
                want[("response", line.strip(), "", "")] += 1
    have = collections.Counter()
    for t in http["transactions"]:
        if t["method"] is not None:
            have[("request", t["method"], dash(t["host"]), t["uri"])] += 1
        if t["status_code"] is not None:
            have[("response", str(t["status_code"]), "", "")] += 1
        if t["info_code"] is not None:
            have[("response", str(t["info_code"]), "", "")] += 1
    compare(capture, want, have)
    if not want and http["flows"]:
        sys.exit(f"FAIL: {capture}: tshark finds no HTTP, the plugin took {http['flows']} flows "
                 "for HTTP")

# --- Known differences: "capture<TAB>side<TAB>count<TAB>the row's fields<TAB>reason", where
# the row is what the NEW DIFFERENCE line prints; '#' starts a comment.
golden_lib.check_known(found, known_file, 2)
for capture, (total, agree) in stats.items():
    known_n = sum(n for k, n in found.items() if k[0] == capture and k[1] == "reference-only")
    print(f"{capture}: {agree} of {total} reference rows agree, {known_n} known differences, "
          f"so {agree} of {total - known_n} where both analyze the messages")
print(f"PASS ({sum(found.values())} rows in {len(found)} known differences)")
PY
