#!/usr/bin/env bash
# compare.sh: wiremeter's throughput next to reference tools, on one capture, in one run.
#
#   benchmarks/compare.sh [--build-dir DIR] [--seconds N] [CAPTURE]
#
# Measures, on the same capture (default: the demo capture of the build tree):
#   - pipeline_benchmark: the real worker code over the capture in memory, with no plugins and
#     with every plugin of the build tree (packets/s on one core);
#   - wiremeter itself, live in sink mode on net_pcap with infinite_rx, for N seconds;
#   - dpdk-testpmd in rxonly mode on the same net_pcap port: what the PMD alone delivers;
#   - ndpiReader (nDPI) over the file, its own throughput figure.
# and prints them with the ratios pipeline/ndpiReader and wiremeter live/testpmd.
#
# Nothing here is a pass/fail check: the figures depend on the machine and its load. Takes about
# 2 * N + 15 seconds (N = 10 by default). Temporary files and DPDK runtime directories it creates
# are removed on exit.
set -euo pipefail

readonly kUsage="usage: benchmarks/compare.sh [--build-dir DIR] [--seconds N] [CAPTURE]"

die() {
  echo "compare.sh: $*" >&2
  exit 1
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$repo/build"
seconds=10
capture=""
while (($#)); do
  case "$1" in
    --build-dir) (($# >= 2)) || die "--build-dir needs a directory"; build_dir=$2; shift 2 ;;
    --build-dir=*) build_dir=${1#*=}; shift ;;
    --seconds) (($# >= 2)) || die "--seconds needs a number"; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    -h | --help) echo "$kUsage"; exit 0 ;;
    -*) die "unknown option $1 ($kUsage)" ;;
    *) [[ -z $capture ]] || die "one capture at a time ($kUsage)"; capture=$1; shift ;;
  esac
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 2 || seconds > 50)); then
  die "--seconds must be a whole number from 2 to 50"
fi
[[ -d $build_dir ]] || die "no build directory $build_dir"
build_dir=$(cd "$build_dir" && pwd)
capture=${capture:-$build_dir/share/wiremeter/demo.pcap}
[[ -r $capture ]] || die "cannot read capture $capture"
capture=$(cd "$(dirname "$capture")" && pwd)/$(basename "$capture")
# The path goes into DPDK devargs (comma-separated) and into JSON.
[[ $capture != *[,\"\\]* ]] || die "the capture path must not contain commas, quotes or backslashes"

for tool in dpdk-testpmd ndpiReader awk date timeout; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
wiremeter=$build_dir/bin/wiremeter
pipeline=$build_dir/bin/pipeline_benchmark
plugin_dir=$build_dir/lib/wiremeter/plugins
for bin in "$wiremeter" "$pipeline"; do
  [[ -x $bin ]] ||
    die "missing $bin (cmake --build $build_dir --target wiremeter pipeline_benchmark)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/wm-compare.XXXXXX")
# Unique DPDK file prefixes, so we know exactly which runtime directories are ours to remove.
live_prefix="wm-compare-live-$$"
testpmd_prefix="wm-compare-testpmd-$$"
cleanup() {
  local dir prefix
  rm -rf -- "$tmp"
  for dir in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    for prefix in "$live_prefix" "$testpmd_prefix"; do
      if [[ -d $dir/$prefix ]]; then rm -rf -- "${dir:?}/$prefix"; fi
    done
  done
}
trap cleanup EXIT

# Median of the numbers on stdin, one per line.
median() {
  sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) exit 1
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- pipeline_benchmark ---------------------------------------------------------------------------
echo "compare.sh: pipeline_benchmark (3 x 1 s per variant)" >&2
# On CPU 1 where there is one, like the wiremeter worker and testpmd's forwarding lcore below.
eal_args=""
(($(nproc) < 2)) || eal_args="-l 1"
WM_BENCH_PCAP=$capture WM_BENCH_PLUGIN_DIR=$plugin_dir WM_BENCH_EAL_ARGS=$eal_args \
  "$pipeline" --benchmark_format=json \
  --benchmark_min_time=1 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  >"$tmp/pipeline.json" 2>"$tmp/pipeline.err" ||
  die "pipeline_benchmark failed: $(tail -n 1 "$tmp/pipeline.err")"
# Google Benchmark's JSON has one field per line; take the median aggregate of each variant.
pipeline_field() {  # variant field
  awk -v want="\"$1/real_time_median\"," -v field="\"$2\":" '
    $1 == "\"name\":" { name = $2 }
    $1 == field && name == want { gsub(/,/, "", $2); print $2; exit }' "$tmp/pipeline.json"
}
pps_bare=$(pipeline_field pipeline/no_plugins items_per_second)
pps_plugins=$(pipeline_field pipeline/all_plugins items_per_second)
pps_plugins_cold=$(pipeline_field pipeline/all_plugins_cold items_per_second)
# dpi alone, cold: nDPI classifying every flow as ndpiReader does, and nothing else. No pipeline
# that feeds nDPI the same packets can beat it cold, so it bounds the cold ratio.
pps_dpi_cold=$(pipeline_field pipeline/only_dpi_cold items_per_second)
packets=$(pipeline_field pipeline/no_plugins packets)
plugins=$(awk -F'plugins: ' '/"label":/ && /plugins: / { sub(/",?$/, "", $2); print $2; exit }' \
  "$tmp/pipeline.json")
[[ -n $pps_bare && -n $pps_plugins && -n $packets ]] ||
  die "could not read the pipeline_benchmark results ($tmp/pipeline.json)"
packets=$(awk -v p="$packets" 'BEGIN { printf "%d", p }')

# --- wiremeter live -------------------------------------------------------------------------------
echo "compare.sh: wiremeter live, sink mode ($seconds s)" >&2
cat >"$tmp/wiremeter.json" <<EOF
{
  "workers": 1,
  "ports": [{"name": "bench0", "devargs": "net_pcap_bench0,rx_pcap=$capture,infinite_rx=1"}],
  "link": {"mode": "sink"},
  "http": {"listen": "127.0.0.1:0"}
}
EOF
launch_ns=$(date +%s%N)
# The last --file-prefix wins in the EAL, so ours replaces wiremeter's per-pid default.
rc=0
timeout -k 5 $((seconds + 60)) "$wiremeter" --config "$tmp/wiremeter.json" \
  --plugin-dir "$plugin_dir" --run-seconds "$seconds" --report json \
  --report-file "$tmp/report.json" --listen 127.0.0.1:0 --log-level info \
  --eal=--file-prefix="$live_prefix" </dev/null >/dev/null 2>"$tmp/wiremeter.log" || rc=$?
((rc == 0)) || die "wiremeter failed (exit $rc): $(tail -n 1 "$tmp/wiremeter.log")"
live_packets=$(sed -n 's/.*"totals":{"packets":\([0-9]*\).*/\1/p' "$tmp/report.json")
[[ -n $live_packets ]] || die "no totals.packets in the wiremeter report"
# The run ends run_seconds after start; packets flow from the "running" log line on.
running_at=$(awk '$2 == "info" && $3 == "running:" { print $1; exit }' "$tmp/wiremeter.log")
[[ -n $running_at ]] || die "no \"running:\" line in the wiremeter log"
running_ns=$(date -u -d "$running_at" +%s%N)
live_secs=$(awk -v l="$launch_ns" -v r="$running_ns" -v s="$seconds" \
  'BEGIN { printf "%.3f", (l + s * 1e9 - r) / 1e9 }')
awk -v t="$live_secs" 'BEGIN { exit !(t > 0.5) }' ||
  die "wiremeter ran too briefly (${live_secs} s)"
pps_live=$(awk -v p="$live_packets" -v t="$live_secs" 'BEGIN { printf "%.0f", p / t }')

# --- dpdk-testpmd rxonly --------------------------------------------------------------------------
echo "compare.sh: dpdk-testpmd rxonly ($seconds s)" >&2
# infinite_rx keeps the whole capture in mbufs besides those in flight and in the caches.
mbufs=$((packets + 16384))
mem_mb=$((mbufs * 2560 / 1048576 + 256))
((mem_mb >= 1024)) || mem_mb=1024
rc=0
timeout -s INT -k 5 $((seconds + 2)) dpdk-testpmd --no-huge -m "$mem_mb" --no-pci --no-shconf \
  --file-prefix "$testpmd_prefix" --vdev "net_pcap0,rx_pcap=$capture,infinite_rx=1" -l 0-1 \
  --log-level='*:error' -- --forward-mode=rxonly --no-mlockall --total-num-mbufs="$mbufs" -a \
  --stats-period 1 </dev/null >"$tmp/testpmd.log" 2>&1 || rc=$?
# timeout's SIGINT is how testpmd is meant to stop here (exit 124).
((rc == 0 || rc == 124)) || die "dpdk-testpmd failed (exit $rc): $(tail -n 1 "$tmp/testpmd.log")"
# Per-second samples; the first non-zero one covers a partial second.
pps_testpmd=$(awk '/Rx-pps:/ && $2 > 0 { if (seen++) print $2 }' "$tmp/testpmd.log" | median) ||
  die "no Rx-pps samples from dpdk-testpmd: $(grep -m 1 -iE 'error|fail' "$tmp/testpmd.log")"

# --- ndpiReader -----------------------------------------------------------------------------------
# One pass per loop (-l); enough loops that a small capture still takes measurable time. -q would
# silence the summary that carries ndpiReader's own throughput figure, so it is not used.
loops=$(((200000 + packets - 1) / packets))
((loops <= 100)) || loops=100
echo "compare.sh: ndpiReader ($loops pass(es))" >&2
ndpiReader -i "$capture" -l "$loops" </dev/null >"$tmp/ndpi.log" 2>&1 ||
  die "ndpiReader failed: $(tail -n 1 "$tmp/ndpi.log")"
# "nDPI throughput: 676.04 K pps / 2.96 Gb/sec" (IP packets per second of processing time).
pps_ndpi=$(awk '/nDPI throughput:/ {
    v = $3; u = $4; m = u == "K" ? 1e3 : u == "M" ? 1e6 : u == "G" ? 1e9 : 1; print v * m }' \
  "$tmp/ndpi.log" | median) || die "no throughput figure in the ndpiReader output"
read -r ndpi_ip ndpi_total < <(awk '/IP packets:/ { print $3, $5; exit }' "$tmp/ndpi.log")
[[ -n ${ndpi_ip:-} && -n ${ndpi_total:-} && $ndpi_ip -gt 0 ]] ||
  die "no packet counts in the ndpiReader output"
# The same rate over all packets of the capture, as the other tools count them.
pps_ndpi_all=$(awk -v p="$pps_ndpi" -v i="$ndpi_ip" -v t="$ndpi_total" 'BEGIN { print p * t / i }')

# --- table ----------------------------------------------------------------------------------------
row() {  # label pps
  awk -v l="$1" -v p="$2" 'BEGIN { printf "  %-52s %9.2f M %10.1f\n", l, p / 1e6, 1e9 / p }'
}
ratio() {  # label a b
  awk -v l="$1" -v a="$2" -v b="$3" 'BEGIN { printf "  %-52s %9.2f\n", l, a / b }'
}
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo
echo "capture:  $capture ($packets packets, $ndpi_ip IP)"
echo "plugins:  ${plugins:-none}"
echo "machine:  $(nproc) CPUs, ${cpu:-unknown CPU}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "  %-52s %11s %10s\n" "" "packets/s" "ns/packet"
row "pipeline_benchmark, no plugins (1 core, memory)" "$pps_bare"
row "pipeline_benchmark, all plugins, warm (flows kept)" "$pps_plugins"
row "pipeline_benchmark, all plugins, cold (every flow new)" "$pps_plugins_cold"
[[ -z $pps_dpi_cold ]] || row "pipeline_benchmark, dpi alone, cold" "$pps_dpi_cold"
row "wiremeter live, sink, net_pcap infinite_rx (${live_secs} s)" "$pps_live"
row "dpdk-testpmd rxonly, net_pcap infinite_rx" "$pps_testpmd"
row "ndpiReader, own figure (IP packets/s)" "$pps_ndpi"
row "ndpiReader, all packets/s (own x $ndpi_total/$ndpi_ip)" "$pps_ndpi_all"
echo
ratio "pipeline all plugins / ndpiReader (all packets)" "$pps_plugins" "$pps_ndpi_all"
ratio "pipeline all plugins, cold / ndpiReader (all packets)" "$pps_plugins_cold" "$pps_ndpi_all"
[[ -z $pps_dpi_cold ]] ||
  ratio "pipeline dpi alone, cold / ndpiReader (the cold ceiling)" "$pps_dpi_cold" "$pps_ndpi_all"
ratio "pipeline no plugins / ndpiReader (all packets)" "$pps_bare" "$pps_ndpi_all"
ratio "wiremeter live / dpdk-testpmd rxonly" "$pps_live" "$pps_testpmd"
