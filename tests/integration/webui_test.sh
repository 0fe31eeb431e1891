#!/usr/bin/env bash
# The web UI in a real headless browser (Debian chromium, driven by playwright-core from
# webui/node_modules): first login forces a password change, the dashboard shows live
# counters for the demo port, log out and log in again with the new password.
# Usage: webui_test.sh WIREMETER PLUGIN_DIR DATA_DIR
# Env: WM_SCREENSHOT=FILE.png saves a screenshot of the dashboard.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
wiremeter=$1 plugin_dir=$2 data_dir=$3
need_root
[ -x /usr/bin/chromium ] || skip "needs Debian's chromium (/usr/bin/chromium): apt-get install chromium"
command -v node >/dev/null || skip "needs node (Node.js >= 20)"
[ -f "$here/webui/node_modules/playwright-core/package.json" ] ||
  skip "playwright-core is not installed: run 'npm ci' in $here/webui"
need_cmd curl timeout

tmp=$(mktemp -d)
wm_pid=
cleanup() {
  if [ -n "$wm_pid" ]; then kill "$wm_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
show_log() { echo "--- wiremeter log ---" >&2; cat "$tmp/wm.log" >&2 || true; }

port=$(free_port)
base="http://127.0.0.1:$port"
"$wiremeter" --config "$tmp/config.json" --plugin-dir "$plugin_dir" --data-dir "$data_dir" \
  --listen "127.0.0.1:$port" >"$tmp/wm.log" 2>&1 &
wm_pid=$!
wait_http "$base/" 20 || { show_log; fail "wiremeter did not start"; }

# The whole browser test is bounded; node's test runner prints its own summary. TMPDIR puts
# the browser profile under $tmp, so it goes even when the timeout kills node.
if ! WM_URL="$base" TMPDIR="$tmp" timeout -k 5 60 node --test-reporter=spec "$here/webui/ui.test.mjs"; then
  show_log
  fail "web UI test failed"
fi
echo "PASS"
