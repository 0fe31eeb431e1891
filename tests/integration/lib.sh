# Helpers shared by the integration tests (sourced, not run).
# Tests exit 77 to tell CTest they were skipped, with the reason on stderr.

skip() { echo "SKIP: $*" >&2; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || skip "needs root (network namespaces, DPDK)"; }
need_cmd() { for c in "$@"; do command -v "$c" >/dev/null || fail "missing command: $c"; done; }

# A free TCP port on 127.0.0.1.
free_port() {
  local p
  for p in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port"
}

# wait_http URL SECONDS: until the URL answers at all.
wait_http() {
  local i
  for i in $(seq 1 $(($2 * 10))); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  return 1
}

# Logs in as admin and replaces the factory password, leaving the session cookie in $JAR.
# Usage: login_admin BASE_URL JAR
login_admin() {
  local base=$1 jar=$2
  curl -sf -c "$jar" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"allegro"}' "$base/api/v1/auth/login" >/dev/null ||
    fail "login with the factory password failed"
  curl -sf -b "$jar" -H 'Content-Type: application/json' \
    -d '{"old_password":"allegro","new_password":"test-password-1"}' \
    "$base/api/v1/auth/password" >/dev/null || fail "password change failed"
}

api() {  # api JAR METHOD URL [BODY]
  local jar=$1 method=$2 url=$3 body=${4:-}
  if [ -n "$body" ]; then
    curl -sf -b "$jar" -X "$method" -H 'Content-Type: application/json' -d "$body" "$url"
  else
    curl -sf -b "$jar" -X "$method" "$url"
  fi
}
