#!/usr/bin/env bash
# The SDK as a third party gets it: install wiremeter to a prefix, build sdk/examples/flow_counter
# out of tree with find_package(wiremeter-sdk), run its unit test, and load it into wiremeter.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
build_dir=$1 source_dir=$2
need_root
need_cmd cmake jq
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null || fail "cmake --install failed"
[ -f "$tmp/prefix/include/wiremeter/abi.h" ] || fail "SDK headers not installed"
cmake -S "$source_dir/sdk/examples/flow_counter" -B "$tmp/build" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "configure failed"; }
cmake --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; fail "build failed"; }
(cd "$tmp/build" && ctest --output-on-failure >"$tmp/test.log" 2>&1) || { cat "$tmp/test.log"; fail "example unit test failed"; }
echo "ok: example built against the installed SDK and its unit test passed"

cp "$tmp/build/libwm_flow_counter.so" "$tmp/prefix/lib/wiremeter/plugins/"
report=$("$tmp/prefix/bin/wiremeter" --pcap "$tmp/prefix/share/wiremeter/demo.pcap" --report json 2>"$tmp/wm.log") ||
  { cat "$tmp/wm.log"; fail "installed wiremeter failed"; }
jq -e '.refused_plugins == []' <<<"$report" >/dev/null || fail "plugins refused: $(jq -c .refused_plugins <<<"$report")"
tcp=$(jq '.plugins.flow_counter.tcp_packets' <<<"$report")
answered=$(jq '.plugins.flow_counter.flows_answered' <<<"$report")
[ "$tcp" -gt 0 ] && [ "$answered" -gt 0 ] || fail "plugin saw nothing: $(jq -c .plugins.flow_counter <<<"$report")"
echo "ok: installed wiremeter loaded the plugin: $tcp TCP packets, $answered answered flows"
echo "PASS"
