#!/usr/bin/env bash
# Renders the leaderboard page that `faithbench report` wrote in headless Chromium and checks it
# (docs/report.md, "The Chromium check"):
#
#   scripts/check_report.sh RUN_DIR_OR_OUT_DIR... (or paths of leaderboard.html files)
#
# For each folder, leaderboard.html is loaded from disk (file://, nothing from the network) and,
# after the load event, every <img> must have loaded (complete, naturalWidth > 0) and every table
# id listed in leaderboard.json ("table_ids") must be a <table> of the rendered DOM; the number of
# images must be the number leaderboard.json lists ("images"). The page itself has no scripts: the
# check runs on a temporary copy with a <base href> pointing at the page's folder and a small
# inline script appended, and reads the script's verdict from `--dump-dom`.
#
# Exit status: 0 every page passed; 1 a page failed (or no page was named / a page is missing);
# 2 no Chromium (install it: apt-get install chromium). CHROMIUM=/path/to/chrome picks the browser.
# Not part of .ci/run.

set -u

usage() {
    echo "usage: scripts/check_report.sh RUN_DIR_OR_OUT_DIR... (folders holding leaderboard.html, or .html files)" >&2
    exit 1
}

browser="${CHROMIUM:-}"
if [ -z "$browser" ]; then
    for b in chromium chromium-browser google-chrome google-chrome-stable; do
        if command -v "$b" >/dev/null 2>&1; then
            browser="$(command -v "$b")"
            break
        fi
    done
fi
if [ -z "$browser" ] || ! command -v "$browser" >/dev/null 2>&1; then
    echo "check_report.sh: no Chromium found (tried chromium, chromium-browser, google-chrome; CHROMIUM=$browser)." >&2
    echo "Install it with: apt-get install chromium" >&2
    exit 2
fi
[ $# -ge 1 ] || usage

# percent-encodes a path for a file:// URL (keeps letters, digits and -._~/)
urlpath() {
    local s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in
            [A-Za-z0-9._~/-]) out+="$c" ;;
            *) out+="$(printf '%%%02X' "'$c")" ;;
        esac
    done
    printf '%s' "$out"
}

# the lines of a top-level JSON string array ("  \"KEY\": [" … "  ]") of a pretty-printed file
json_array() {
    sed -n "/^  \"$1\": \[/,/^  \]/p" "$2" | sed '1d;$d' | sed 's/^ *"//; s/",\{0,1\} *$//'
}

status=0
for arg in "$@"; do
    if [ ! -e "$arg" ]; then
        echo "FAIL $arg: no such folder or file"
        status=1
        continue
    fi
    if [ -d "$arg" ]; then
        page="$arg/leaderboard.html"
    else
        page="$arg"
    fi
    json="${page%.html}.json"
    if [ ! -f "$page" ] || [ ! -f "$json" ]; then
        echo "FAIL $page: no such page (or no ${json##*/} beside it); run faithbench report first"
        status=1
        continue
    fi
    dir="$(cd "$(dirname "$page")" && pwd)"
    ids="$(json_array table_ids "$json")"
    n_ids="$(printf '%s\n' "$ids" | grep -c .)"
    n_images="$(json_array images "$json" | grep -c .)"
    js_ids="$(printf '%s\n' "$ids" | sed 's/.*/"&"/' | paste -sd, -)"
    tmp="$(mktemp -d)"
    profile="$(mktemp -d)"
    # the copy: <base> at the page's folder after <head>, the check before </body>
    base="file://$(urlpath "$dir")/"
    script="<script>
window.addEventListener('load', function () {
  var problems = [];
  var imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    if (!(imgs[i].complete && imgs[i].naturalWidth > 0)) problems.push('image not loaded: ' + imgs[i].getAttribute('src'));
  }
  var ids = [$js_ids];
  for (var j = 0; j < ids.length; j++) {
    var t = document.getElementById(ids[j]);
    if (!t || t.tagName !== 'TABLE') problems.push('table missing: ' + ids[j]);
  }
  var pre = document.createElement('pre');
  pre.id = 'faithbench-check';
  pre.textContent = 'CHE' + 'CK images=' + imgs.length + ' tables=' + document.getElementsByTagName('table').length + ' problems=' + problems.length + '\n' + problems.join('\n') + '\nEN' + 'D';
  document.body.appendChild(pre);
});
</script>"
    # (through the environment: awk -v would expand the backslashes of the script)
    BASE="<base href=\"$base\">" SCRIPT="$script" awk '
        { line = $0 }
        !b && index(line, "<head>") { sub(/<head>/, "<head>\n" ENVIRON["BASE"], line); b = 1 }
        index(line, "</body>") { i = index(line, "</body>"); line = substr(line, 1, i - 1) ENVIRON["SCRIPT"] "\n" substr(line, i) }
        { print line }
    ' "$page" >"$tmp/page.html"
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$profile" --allow-file-access-from-files --virtual-time-budget=15000 \
        --dump-dom "file://$(urlpath "$tmp/page.html")" >"$tmp/dom.html" 2>"$tmp/stderr.txt"
    rc=$?
    verdict="$(sed -n '/<pre id="faithbench-check">CHECK images=/,/^END/p' "$tmp/dom.html" | sed 's/^<pre id="faithbench-check">//')"
    if [ $rc -ne 0 ] || [ -z "$verdict" ]; then
        echo "FAIL $page: Chromium exited with $rc and no verdict; its stderr:"
        tail -5 "$tmp/stderr.txt"
        status=1
    else
        loaded="$(printf '%s\n' "$verdict" | head -1 | sed 's/.*images=\([0-9]*\).*/\1/')"
        problems="$(printf '%s\n' "$verdict" | head -1 | sed 's/.*problems=\([0-9]*\).*/\1/')"
        if [ "$problems" = "0" ] && [ "$loaded" = "$n_images" ]; then
            echo "ok   $page: $loaded of $n_images images loaded, $n_ids of $n_ids expected tables present ($(printf '%s\n' "$verdict" | head -1 | sed 's/.*tables=\([0-9]*\).*/\1/') tables in the DOM)"
        else
            echo "FAIL $page: $(printf '%s\n' "$verdict" | head -1) (expected $n_images images, $n_ids tables)"
            printf '%s\n' "$verdict" | sed '1d;$d' | head -20 | sed 's/^/     /'
            status=1
        fi
    fi
    rm -rf "$tmp" "$profile"
done
exit $status
