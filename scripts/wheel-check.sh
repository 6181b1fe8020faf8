#!/usr/bin/env bash
# The package as a team adopting vpump gets it: build the wheel from a clean copy of the
# checkout, install it into a fresh virtual environment outside the checkout, and run the
# tools from there (pump-emulator serve, pumpctl interrogate, a scenario through the pytest
# plugin, pump-programmer --screenshots offscreen).
#
# Dependencies come from a local wheelhouse (.cache/wheelhouse, filled from the package index
# on the first run and whenever the requirements change), so a run downloads nothing.
# Usage: scripts/wheel-check.sh [PYTHON]   (run by `make wheel-check`, part of `make test`)
set -euo pipefail
PYTHON=${1:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHEELHOUSE=${VPUMP_WHEELHOUSE:-$ROOT/.cache/wheelhouse}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vpump-wheel-check.XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf 'wheel-check: %s\n' "$*"; }
fail() { printf 'wheel-check: FAILED: %s\n' "$*" >&2; exit 1; }
start=$SECONDS

# 1. a clean copy of the checkout (tracked and new files, nothing ignored: no stale build/)
mkdir -p "$WORK/src" "$WORK/dist" "$WHEELHOUSE"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$WORK/src"

# 2. the wheel, built offline when the wheelhouse has the build backend
fill_wheelhouse() {
  say "filling the wheelhouse $WHEELHOUSE (first run, or the requirements changed)"
  "$PYTHON" -m pip wheel --quiet --wheel-dir "$WHEELHOUSE" "setuptools>=77" "pytest>=8,<9" "$WORK/src"
  rm -f "$WHEELHOUSE"/vpump-*.whl
}
build() {
  PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE" "$PYTHON" -m pip wheel --quiet --no-deps \
    --wheel-dir "$WORK/dist" "$WORK/src"
}
build 2>/dev/null || { fill_wheelhouse; build; }
WHEEL=$(ls "$WORK"/dist/vpump-*.whl)
say "built $(basename "$WHEEL")"

# 3. what the wheel holds: the four packages and the public API, the package data, no bench
"$PYTHON" - "$WHEEL" <<'EOF' || fail "wheel contents"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
expected = {"protocol", "firmware_model", "emulator", "programmer_gui", "vpump"}
assert tops == expected, f"top-level entries {sorted(tops)}, expected {sorted(expected)}"
for data in ("protocol/data/demo.key", "protocol/data/vpump.lua", "protocol/data/vpump.ksy",
             "emulator/scenarios/scenario.schema.json"):
    assert data in names, f"{data} is not in the wheel"
print(f"wheel-check: {len(names)} files; top level {sorted(tops)}; no bench")
EOF

# 4. a fresh venv outside the checkout, installed with no index
"$PYTHON" -m venv "$WORK/venv"
VENV="$WORK/venv/bin"
install() {
  PIP_NO_INDEX=1 PIP_FIND_LINKS="$WHEELHOUSE" "$VENV/python" -m pip install --quiet \
    "$WHEEL" "pytest>=8,<9"
}
install 2>/dev/null || { fill_wheelhouse; install; }
say "installed into $WORK/venv ($((SECONDS - start)) s so far)"
cd "$WORK"  # nothing below may find the checkout
export QT_QPA_PLATFORM=offscreen
unset PYTHONPATH

# 5. the public API and the package data, from the installed copy
"$VENV/python" - <<'EOF' || fail "import vpump"
import importlib.util, pathlib, sys, vpump
assert "protocol" not in sys.modules, "import vpump is not lazy"
key_file = pathlib.Path(vpump.DEMO_KEY_FILE)
assert "site-packages" in str(key_file) and key_file.is_file(), key_file
assert vpump.load_keys(key_file)[vpump.Role.CLINICIAN]
assert importlib.util.find_spec("bench") is None, "bench was installed"
for shipped in (vpump.DISSECTOR_FILE, vpump.KSY_FILE):
    assert "site-packages" in str(shipped) and pathlib.Path(shipped).is_file(), shipped
print(f"wheel-check: import vpump {vpump.__version__}; demo key {key_file}")
EOF

# 6. pump-emulator serve (the demo key by default) and pumpctl interrogate against it
"$VENV/pump-emulator" serve --port "$WORK/ttyPUMP0" --tcp 127.0.0.1:0 --rfc2217 127.0.0.1:0 --preset demo \
  > "$WORK/serve.out" 2> "$WORK/serve.err" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q '"event": "ready"' "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done
grep -q '"event": "ready"' "$WORK/serve.out" || fail "pump-emulator serve: $(cat "$WORK/serve.err")"
"$VENV/pumpctl" --port "$WORK/ttyPUMP0" interrogate > "$WORK/interrogate.out" \
  || fail "pumpctl interrogate"
grep -q "VP" "$WORK/interrogate.out" || fail "pumpctl interrogate printed no serial number"
RFC2217_URL=$("$VENV/python" -c 'import json, sys; print(json.loads(sys.stdin.readline())["rfc2217"])' < "$WORK/serve.out")
"$VENV/pumpctl" --port "$RFC2217_URL" --json status > /dev/null || fail "pumpctl status over $RFC2217_URL"
kill -INT "$SERVER_PID"; wait "$SERVER_PID" || fail "pump-emulator serve did not stop cleanly"
SERVER_PID=""
say "pump-emulator serve + pumpctl interrogate (pty) and status ($RFC2217_URL): ok"

# 7. a scenario through the pytest plugin (registered by the wheel's entry point)
cp "$ROOT/examples/scenarios/first_refill_after_implant.scenario.yaml" "$WORK/"
"$VENV/pytest" -q -p no:cacheprovider "$WORK/first_refill_after_implant.scenario.yaml" \
  > "$WORK/pytest.out" 2>&1 || { cat "$WORK/pytest.out"; fail "the scenario through pytest"; }
grep -q "1 passed" "$WORK/pytest.out" || { cat "$WORK/pytest.out"; fail "the scenario did not run"; }
say "a scenario through the pytest plugin: ok"

# 8. the programmer renders its screens offscreen
"$VENV/pump-programmer" --screenshots "$WORK/shots" > "$WORK/shots.out" 2>&1 \
  || { cat "$WORK/shots.out"; fail "pump-programmer --screenshots"; }
shots=$(find "$WORK/shots" -name '*.png' | wc -l)
[ "$shots" -ge 10 ] || fail "pump-programmer --screenshots wrote $shots screens"
say "pump-programmer --screenshots: $shots screens"
say "passed in $((SECONDS - start)) s"
