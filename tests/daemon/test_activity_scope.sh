#!/bin/sh
# tests/daemon/test_activity_scope.sh - what each token sees of GET
# /v1/activity (issue 15 point 3; docs/connect-api.md): its own requests in
# full; other tokens' requests on the vaults it can read, without their
# jti, user agent and address; the whole log only with the full-log
# permission (`op connect token create --activity-log`). Tokens: A reads
# Alpha, B reads Beta, W may only write Alpha (it can read no vault), F
# reads Alpha and holds the permission, G2 reads Gamma, whose grant is
# taken from the server during the test. Every token sends its own
# User-Agent (ua-<name>), so whose agent shows up where is visible; all
# come from one address, so an address is checked by the member's absence.
# Paging and the 400s of the query still work on a scoped view.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opactscope
. "$(dirname "$0")/lib.sh"

account_create "activity scope test password $$"
setup() {
    op vault create Alpha >/dev/null &&
        op vault create Beta >/dev/null &&
        op vault create Gamma >/dev/null &&
        op item create --vault Alpha --category password --title "Alpha Item" "password=a-$$" \
            >/dev/null &&
        op item create --vault Beta --category password --title "Beta Item" "password=b-$$" \
            >/dev/null &&
        op item create --vault Gamma --category password --title "Gamma Item" "password=g-$$" \
            >/dev/null &&
        (cd "$T/work" && op connect server create act-srv --vaults Alpha,Beta,Gamma >/dev/null)
}
run_setup "account, vaults Alpha/Beta/Gamma with an item each, server set up with op"
vault_id() { op vault get "$1" --format json | jq -r .id; }
item_id() { op item get "$1" --vault "$2" --format json | jq -r .id; }
VA=$(vault_id Alpha)
VB=$(vault_id Beta)
VG=$(vault_id Gamma)
IA=$(item_id "Alpha Item" Alpha)
IB=$(item_id "Beta Item" Beta)
IG=$(item_id "Gamma Item" Gamma)

token() { # NAME ARGS...: prints the token
    _n=$1
    shift
    op connect token create "$_n" --server act-srv "$@" 2>"$T/tok.err" | tail -n 1
}
TA=$(token a --vault Alpha)
TB=$(token b --vault Beta)
TW=$(token w --vault Alpha,w)
TF=$(token f --vault Alpha,r --activity-log)
TG=$(token g --vault Gamma)
TG2=$(token g2 --vault Gamma,r)
jti_of() { op connect token list --format json | jq -r ".[] | select(.name == \"$1\") | .id"; }
JA=$(jti_of a)
JB=$(jti_of b)
JW=$(jti_of w)
JF=$(jti_of f)
JG=$(jti_of g)
JG2=$(jti_of g2)
check "six tokens issued, six distinct jtis" sh -c \
    "for t in '$TA' '$TB' '$TW' '$TF' '$TG' '$TG2'; do
        [ \$(printf %s \"\$t\" | tr -cd . | wc -c) -eq 2 ] || exit 1; done
     [ \$(printf '%s\n' $JA $JB $JW $JF $JG $JG2 | grep -cE '^[a-z0-9]{26}\$') -eq 6 ] &&
     [ \$(printf '%s\n' $JA $JB $JW $JF $JG $JG2 | sort -u | wc -l) -eq 6 ]"
check "op connect token create --activity-log --format json says activityLog" sh -c \
    "op() { setsid -w '$OP' \"\$@\" </dev/null; }
     op connect token create probe --server act-srv --vault Alpha,r --activity-log --format json |
        jq -e '.activityLog == true and (.token | length > 0)'"

start_daemons "$CREDS"

# ---- the requests, each token with its own User-Agent ----
asreq() { # NAME TOKEN PATH: one request; its status in CODE
    req "$2" "$3" -A "ua-$1"
}
asreq A "$TA" /v1/vaults
check "A lists its vault" jq -e "[.[].id] == [\"$VA\"]" "$T/body"
asreq A "$TA" "/v1/vaults/$VA/items"
asreq A "$TA" "/v1/vaults/$VA/items/$IA"
check "A reads its item (200)" [ "$CODE" = 200 ]
asreq B "$TB" /v1/vaults
asreq B "$TB" "/v1/vaults/$VB/items"
asreq B "$TB" "/v1/vaults/$VB/items/$IB"
check "B reads its item (200)" [ "$CODE" = 200 ]
asreq W "$TW" /v1/vaults
check "W (write only) lists no vault" jq -e 'length == 0' "$T/body"
asreq W "$TW" "/v1/vaults/$VA/items"
check "W may not read Alpha (403)" [ "$CODE" = 403 ]
asreq F "$TF" "/v1/vaults/$VA"
check "F reads Alpha (200)" [ "$CODE" = 200 ]
asreq G "$TG" "/v1/vaults/$VG/items/$IG"
check "G reads its item in Gamma (200)" [ "$CODE" = 200 ]

# view NAME TOKEN [QUERY]: GET /v1/activity[?QUERY] as NAME into $T/view.json;
# RANGE is its Content-Range.
view() {
    asreq "$1" "$2" "/v1/activity${3:+?$3}"
    cp "$T/body" "$T/view.json"
    RANGE=$(header Content-Range)
}
# vjq DESC FILTER [JQ-ARGS...]: jq -e FILTER holds on the last view.
vjq() {
    _vd=$1
    _vf=$2
    shift 2
    if jq -e "$@" "$_vf" "$T/view.json" >/dev/null 2>&1; then
        pass "$_vd"
    else
        fail "$_vd" "$(head -c 600 "$T/view.json")"
    fi
}
# absent DESC WORD...: none of the words is in the last view's text.
absent() {
    _ad=$1
    shift
    for _w in "$@"; do
        if grep -qF -- "$_w" "$T/view.json"; then
            fail "$_ad" "'$_w' is in: $(head -c 600 "$T/view.json")"
            return 0
        fi
    done
    pass "$_ad"
}
# The shape of a redacted record and of one in full.
OWN='(.actor | has("jti") and has("userAgent") and has("requestIp"))'
REDACTED='(.actor | (has("jti") or has("userAgent") or has("requestIp")) | not)'

# ---- A: its 3 requests, and the others' on Alpha (W's 403, F's read) redacted ----
view A "$TA"
check "A: 200" [ "$CODE" = 200 ]
vjq "A sees 5 records: its own 3, W's and F's on Alpha" \
    "length == 5 and ([.[] | select(.actor.jti == \$j)] | length) == 3" --arg j "$JA"
check "A: Content-Range 1-5/5" [ "$RANGE" = "1-5/5" ]
vjq "A: its own records in full (its jti, user agent and address)" \
    "all(.[] | select(.actor.jti == \$j); $OWN and .actor.userAgent == \"ua-A\" and
        (.actor.requestIp | length > 0))" --arg j "$JA"
vjq "A: the others' records are on Alpha, without jti, user agent or address" \
    "all(.[] | select(.actor.jti != \$j); $REDACTED and .resource.vault.id == \"$VA\")
     and ([.[] | select(.actor.jti != \$j)] | length) == 2" --arg j "$JA"
vjq "A: W's denial and F's read are there (DENY and SUCCESS on Alpha)" \
    "([.[] | select(.actor.jti == null) | .result] | sort) == [\"DENY\",\"SUCCESS\"]"
absent "A sees no other jti, no other user agent, nothing of Beta or Gamma" \
    "$JB" "$JW" "$JF" "$JG" "$JG2" ua-B ua-W ua-F ua-G "$VB" "$IB" "$VG" "$IG"

# ---- B: its own 3 only (nobody else touched Beta) ----
view B "$TB"
vjq "B sees exactly its own 3 records, in full" \
    "length == 3 and all(.[]; .actor.jti == \$j and $OWN and .actor.userAgent == \"ua-B\")" \
    --arg j "$JB"
check "B: Content-Range 1-3/3" [ "$RANGE" = "1-3/3" ]
absent "B sees no other jti or user agent, nothing of Alpha or Gamma" \
    "$JA" "$JW" "$JF" "$JG" "$JG2" ua-A ua-W ua-F ua-G "$VA" "$IA" "$VG" "$IG"

# ---- W: reads no vault: its own 2 records only ----
view W "$TW"
vjq "W (no readable vault) sees exactly its own 2 records" \
    "length == 2 and all(.[]; .actor.jti == \$j and $OWN)" --arg j "$JW"
check "W: Content-Range 1-2/2" [ "$RANGE" = "1-2/2" ]
vjq "W: its vault list has no resource; its 403 names Alpha (it sent that id itself)" \
    "(map(select(.resource == null)) | length) == 1 and
     (map(select(.resource.vault.id == \"$VA\" and .result == \"DENY\")) | length) == 1"
absent "W sees no other jti or user agent, no item, nothing of Beta or Gamma" \
    "$JA" "$JB" "$JF" "$JG" "$JG2" ua-A ua-B ua-F ua-G "$IA" "$VB" "$IB" "$VG" "$IG"

# ---- G2 reads Gamma: G's read there, redacted ----
view G2 "$TG2"
vjq "G2 (Gamma, no request yet) sees G's read of Gamma, redacted" \
    "length == 1 and (.[0] | $REDACTED and .resource.vault.id == \"$VG\" and
        .resource.item.id == \"$IG\")"
absent "G2 sees no jti, user agent, nor Alpha or Beta" \
    "$JG" "$JA" "$JB" "$JW" "$JF" ua-G ua-A ua-B ua-W ua-F "$VA" "$VB"

# ---- F: the full-log permission: every record, in full ----
view F "$TF" "limit=1000"
# (Reads of /v1/activity are not recorded: A 3, B 3, W 2, F 1, G 1.)
vjq "F (--activity-log) sees all 10 records, every one with jti, user agent and address" \
    "length == 10 and all(.[]; $OWN)"
vjq "F sees every token's jti and user agent" \
    "([.[].actor.jti] | unique | sort) == ([\$a,\$b,\$w,\$f,\$g] | sort) and
     ([.[].actor.userAgent] | unique) == [\"ua-A\",\"ua-B\",\"ua-F\",\"ua-G\",\"ua-W\"] and
     ([.[].resource.vault.id // empty] | unique | sort) == ([\$va,\$vb,\$vg] | sort)" \
    --arg a "$JA" --arg b "$JB" --arg w "$JW" --arg f "$JF" --arg g "$JG" \
    --arg va "$VA" --arg vb "$VB" --arg vg "$VG"
check "F: Content-Range 1-10/10" [ "$RANGE" = "1-10/10" ]

# ---- paging and the query on a scoped view (A: 5 records) ----
view A "$TA"
cp "$T/view.json" "$T/a-all.json"
view A "$TA" "limit=2"
check "A limit=2: Content-Range 1-2/5" [ "$RANGE" = "1-2/5" ]
vjq "A limit=2: the two newest of its view" '. == $all[0][0:2]' --slurpfile all "$T/a-all.json"
view A "$TA" "limit=2&offset=2"
check "A offset=2: Content-Range 3-4/5" [ "$RANGE" = "3-4/5" ]
vjq "A offset=2: the next two" '. == $all[0][2:4]' --slurpfile all "$T/a-all.json"
view A "$TA" "offset=4"
check "A offset=4: Content-Range 5-5/5" [ "$RANGE" = "5-5/5" ]
vjq "A offset=4: the oldest record of its view" '. == $all[0][4:5]' --slurpfile all "$T/a-all.json"
view A "$TA" "offset=5"
check "A offset=5: 200 [] with Content-Range */5" sh -c \
    "[ '$CODE' = 200 ] && [ '$RANGE' = '*/5' ] && [ \"\$(cat '$T/view.json')\" = '[]' ]"
view A "$TA" "limit=0"
check "A limit=0: only the count, */5" [ "$RANGE" = "*/5" ]
experr "A limit=-1: 400 Invalid limit" 400 "$TA" "/v1/activity?limit=-1" '^Invalid limit$'
experr "A offset=x: 400 Invalid offset" 400 "$TA" "/v1/activity?offset=x" '^Invalid offset$'
experr "POST /v1/activity: 405" 405 "$TA" /v1/activity 'Method not allowed' -X POST
experr "no token: 401" 401 - /v1/activity

# ---- Gamma taken from the server: G2 no longer reads it, so G's record goes ----
op connect vault revoke --server act-srv --vault Gamma >/dev/null 2>"$T/revoke.err" ||
    fail "revoke Gamma from the server" "$(cat "$T/revoke.err")"
check "the revocation reaches connect-api (G2's Gamma is 404)" poll_until 10000 code_is 404 "$TG2" \
    "/v1/vaults/$VG"
view G2 "$TG2"
vjq "G2 after the revocation: only its own requests (the last a 404 on Gamma), nothing of G" \
    "length >= 1 and all(.[]; .actor.jti == \$j and $OWN) and .[0].result == \"DENY\"" \
    --arg j "$JG2"
absent "G2 after the revocation: no G item, no other jti" "$IG" "$JG" "$JA" "$JB" "$JW" "$JF"

check "every response carried 1Password-Connect-Version ($NREQ responses, $NOVER without)" \
    [ "$NOVER" -eq 0 ]
stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
stop_pid SYNC_PID
check "connect-sync: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]
echo "activity scope: $NPASS passed, $NFAIL failed"
