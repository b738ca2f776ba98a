#!/usr/bin/env bash
# Opens the lab's HTML report in headless Chromium and fails if a scenario or a chart is
# missing, a chart is empty (an <svg> with no line drawn), or the browser's console shows an
# error. Needs `chromium` on the PATH (.ci/run installs it).
#
#   .ci/check-report.sh [OUT_DIR]     # OUT_DIR defaults to a fresh temporary directory
#   CHECK_ONLY=1 .ci/check-report.sh OUT_DIR   # check the page already in OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-$(mktemp -d)}"
mkdir -p "$out"
browser="${CHROMIUM:-chromium}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT

if [ -z "${CHECK_ONLY:-}" ]; then
    cargo run --release -p seawall-lab -- --report "$out" >"$out/table.txt"
fi
scenarios="$(cargo run --release -q -p seawall-lab -- --list | wc -l)"

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile" --enable-logging=stderr --v=0)
page="file://$(cd "$out" && pwd)/index.html"
timeout 120 "$browser" "${flags[@]}" --dump-dom "$page" >"$out/dom.html" 2>"$out/console.log"
timeout 120 "$browser" "${flags[@]}" --window-size=1340,2400 \
    --screenshot="$out/screenshot.png" "$page" >/dev/null 2>>"$out/console.log"

fail=0
# The console: the page has no script, so any message it logs is a fault.
if grep -E 'CONSOLE|Uncaught|Failed to load resource|Refused to' "$out/console.log"; then
    echo "check-report: the browser console reported the above" >&2
    fail=1
fi
if [ ! -s "$out/screenshot.png" ]; then
    echo "check-report: no screenshot" >&2
    fail=1
fi

# The DOM as the browser parsed it: every scenario has its section, every section the
# charts it announces (upstream load, success rate, latency at least), and every chart an
# <svg> with at least one data line (2 px wide; axes and ticks are 1 px) of two or more points.
awk -v want="$scenarios" '
    BEGIN { RS = "<section class=\"scenario\""; bad = 0 }
    NR == 1 { next }
    {
        sections++
        id = $0; sub(/^[^"]*"/, "", id); sub(/".*/, "", id)
        announced = $0; sub(/.*data-charts="/, "", announced); sub(/".*/, "", announced)
        n = split($0, figures, "<figure class=\"chart\"")
        found = n - 1
        if (found != announced + 0 || found < 3) {
            printf "check-report: scenario %s has %d charts, announces %s\n", id, found, announced
            bad = 1
        }
        for (kind in need) delete need[kind]
        need["upstream-load"] = 0; need["success-rate"] = 0; need["latency"] = 0
        for (i = 2; i <= n; i++) {
            f = figures[i]
            k = f; sub(/^ *data-kind="/, "", k); sub(/".*/, "", k)
            if (k in need) need[k] = 1
            if (f !~ /<svg/) { printf "check-report: %s/%s has no <svg>\n", id, k; bad = 1; continue }
            drawn = 0
            m = split(f, lines, "<polyline")
            for (j = 2; j <= m; j++) {
                # Data lines are drawn 2 px wide; axes and ticks 1 px.
                tag = lines[j]; sub(/>.*/, "", tag)
                if (tag !~ /stroke-width="2"/) continue
                pts = ""
                if (match(lines[j], /points="[^"]*"/)) pts = substr(lines[j], RSTART + 8, RLENGTH - 9)
                if (split(pts, p, " ") >= 2) drawn++
            }
            if (drawn == 0) { printf "check-report: %s/%s is empty: no line drawn\n", id, k; bad = 1 }
        }
        for (kind in need) if (!need[kind]) { printf "check-report: %s has no %s chart\n", id, kind; bad = 1 }
    }
    END {
        if (sections != want) { printf "check-report: %d scenario sections, %d scenarios\n", sections, want; bad = 1 }
        exit bad
    }
' "$out/dom.html" || fail=1

charts="$(grep -o '<figure class="chart"' "$out/dom.html" | wc -l)"
if [ "$fail" -ne 0 ]; then
    echo "check-report: FAILED (page, DOM, console and screenshot in $out)" >&2
    exit 1
fi
echo "check-report: $scenarios scenarios, $charts charts drawn, no console error ($out)"
