#!/bin/sh
# tests/daemon/test_ipv6.sh - connect-api on IPv6: with OP_BIND_ADDRESS=::1
# (OPC_TEST_HOST=::1, tests/lib/connect.sh) it serves the read routes on
# http://[::1]:PORT (status, JSON bodies, error classes), HTTPS on
# https://[::1]:PORT, and logs the client's own address, ::1, for both: in
# each request line of its log and in the activity record of a request
# made over HTTPS (not 127.0.0.1, the address of a relay in front of it).
# About 10 s.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opipv6
OPC_TEST_HOST=::1
. "$(dirname "$0")/lib.sh"

one_item_https ipv6-srv
if ! kill -0 "$API_PID" 2>/dev/null; then
    fail "connect-api runs with OP_BIND_ADDRESS=::1" "$(head -c 300 "$T/api.err")"
    echo "ipv6: $NPASS passed, $NFAIL failed (nothing to test without the server)"
    exit 1
fi

# ---- the read routes over http://[::1] ----
expect "GET /heartbeat on [::1]" 200 - /heartbeat
expect "GET /v1/vaults on [::1]" 200 "$TOKEN" /v1/vaults \
    "length == 1 and .[0].id == \"$DEMO\" and .[0].name == \"Demo\""
expect "GET /v1/vaults/{id} on [::1]" 200 "$TOKEN" "/v1/vaults/$DEMO" ".id == \"$DEMO\""
expect "GET items on [::1]" 200 "$TOKEN" "/v1/vaults/$DEMO/items" \
    "length == 1 and .[0].id == \"$ITEM\""
expect "GET items with a filter on [::1]" 200 "$TOKEN" \
    "/v1/vaults/$DEMO/items?filter=title+eq+%22Web+Login%22" ".[0].id == \"$ITEM\""
expect "GET an item on [::1]" 200 "$TOKEN" "/v1/vaults/$DEMO/items/$ITEM" \
    "[.fields[] | select(.purpose == \"PASSWORD\") | .value] == [\"ipv6-srv-$$\"]"
experr "401 without a token on [::1]" 401 - /v1/vaults
experr "400 on a malformed vault id on [::1]" 400 "$TOKEN" /v1/vaults/abc 'Invalid Vault UUID'
experr "404 on an unknown item on [::1]" 404 "$TOKEN" \
    "/v1/vaults/$DEMO/items/bbbbbbbbbbbbbbbbbbbbbbbbbb" 'not found'

# ---- HTTPS on [::1]: the client's address is logged ----
UA="opconnect-ipv6-test/$$"
set +e
HCODE=$(curl -s -g -m 5 -o "$T/https.body" -w '%{http_code}' --cacert "$T/tls/cert.pem" \
    -A "$UA" -H "Authorization: Bearer $TOKEN" \
    "https://[::1]:$HTTPS_PORT/v1/vaults/$DEMO/items/$ITEM")
set -e
if [ "$HCODE" = 200 ] && jq -e ".id == \"$ITEM\"" "$T/https.body" >/dev/null 2>&1; then
    pass "GET an item over HTTPS on [::1]"
else
    fail "GET an item over HTTPS on [::1]" "HTTP $HCODE"
fi
expect "the activity log holds the HTTPS request" 200 "$TOKEN" "/v1/activity?limit=50" \
    "any(.[]; .actor.userAgent == \"$UA\")"
IP=$(jq -r "[.[] | select(.actor.userAgent == \"$UA\")][0].actor.requestIp" "$T/body" 2>/dev/null ||
    echo none)
if [ "$IP" = "::1" ]; then
    pass "the activity record of the HTTPS request names the client's address ::1"
else
    fail "the activity record of the HTTPS request names the client's address ::1" \
        "requestIp $IP"
fi
check "HTTP and HTTPS requests were logged (more than 10 request lines)" poll_until 2000 sh -c \
    "jq -c 'select(.http)' '$T/api.log' | [ \$(wc -l) -gt 10 ]"
ADDRS=$(jq -r 'select(.http) | .http.remote_addr' "$T/api.log" 2>/dev/null | sort | uniq -c |
    tr -s ' \n' '  ')
if [ -n "$ADDRS" ] && [ "$(jq -r 'select(.http) | .http.remote_addr' "$T/api.log" | sort -u)" = "::1" ]; then
    pass "every request line logs remote_addr ::1 ($ADDRS)"
else
    fail "every request line logs remote_addr ::1" "${ADDRS:-no request lines}"
fi

stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "ipv6: $NPASS passed, $NFAIL failed"
