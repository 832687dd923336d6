#!/usr/bin/env bash
# A newcomer's tour of the QR credential from the command line, against a
# demo server (make run, or: bin/tempid serve --demo). It logs in as the demo
# passenger, makes a device key, passes a face check with a test photo, gets
# a certificate and its first pass, makes the current code, draws it, and
# verifies it online and offline.
#
#   scripts/walkthrough.sh [SERVER] [TERMINAL_API_KEY]
#
# SERVER defaults to http://127.0.0.1:8080; the terminal API key is the one
# the demo server printed at start-up. Needs curl and python3 (to read JSON).
set -euo pipefail
server=${1:-http://127.0.0.1:8080}
api_key=${2:?give the terminal API key the demo server printed}
tempid=${TEMPID:-bin/tempid}
tempid_dev=${TEMPID_DEV:-bin/tempid-dev}
photo=internal/face/facetest/testdata/sample.jpg
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$1"; }

echo "1. log in as the demo passenger"
csrf=$(curl -sf -c "$work/jar" -H 'Content-Type: application/json' \
  -d '{"username":"passenger","password":"tempid-demo-1"}' "$server/api/v1/session" | json '["csrf_token"]')

echo "2. a simulated phone makes its device key"
jwk=$("$tempid_dev" device new --out "$work/device.pem")

echo "3. face check for the application (the demo simulator wants one face in the photo)"
# The server refuses here when 张三 already holds a certificate that is not in
# its last 3 hours (R5), as after an earlier run on the same data.
answer=$(curl -s -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d "{\"purpose\":\"apply\",\"subject\":{\"name\":\"张三\",\"id_number\":\"110101199003074573\"},\"device_key\":$jwk,\"consent\":true}" \
  "$server/api/v1/face-checks")
check=$(echo "$answer" | json '["face_check"]["id"]' 2>/dev/null) || { echo "refused: $answer"; exit 1; }
curl -sf -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: image/jpeg' --data-binary @"$photo" \
  "$server/api/v1/face-checks/$check/capture" | json '["face_check"]["status"]'

echo "4. apply: the answer holds the certificate and its first pass"
answer=$(curl -s -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
  -d "{\"face_check_id\":\"$check\",\"name\":\"张三\",\"id_number\":\"110101199003074573\",\"city_code\":\"110100\"}" \
  "$server/api/v1/certificates")
pass=$(echo "$answer" | json '["pass"]["pass"]' 2>/dev/null) || { echo "refused: $answer"; exit 1; }

echo "5. the phone's code for this minute, and its QR"
code=$("$tempid_dev" code --pass "$pass" --device-key "$work/device.pem")
"$tempid" qr --out code.png "$code"
echo "   ${code:0:40}… (${#code} characters), drawn in code.png"

echo "6. a gate verifies it online"
curl -s -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
  -d "{\"code\":\"$code\",\"operation\":\"entry\"}" "$server/api/v1/verifications"; echo

echo "7. and offline, with a trust bundle signed by a pinned key"
# A gate gets the published keys out of band; the walkthrough takes them
# from the same demo server.
curl -sf "$server/.well-known/tempid/keys" > "$work/keys.json"
"$tempid" bundle fetch --server "$server" --api-key "$api_key" --out "$work/bundle.json" --trusted-keys "$work/keys.json"
"$tempid" verify --bundle "$work/bundle.json" --trusted-keys "$work/keys.json" "$code"
