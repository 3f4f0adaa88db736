#!/bin/sh
# tests/daemon/test_connect_write.sh - the item writes of connect-api over
# real HTTP (issue 5, "Writes" and "Must show" 2-4; connect-api spec §1.3
# nos. 5, 7-9, §2.9): POST (server ids, generated values with entropy,
# built-in fields), PUT (password history not shown, the change kept),
# PATCH in every path form of lib/model/patch.h and the empty patch,
# DELETE (204, empty body, no Content-Length), and every error class with
# its JSON body: 400 (malformed, wrong types, categories, two PASSWORD
# fields, bad DATE, deep nesting), 413 (over 1 MiB), 409 (stale version),
# 403 (read-only token writing, write-only token reading, PATCH included),
# 404, 503 (the upstream gone: the account file, or op-account-server)
# while reads keep working. Every refused write is checked to have changed
# nothing. Then the concurrency proofs (tests/daemon/concurrency.py): 1,000
# create->get pairs from 8 clients, and 8 clients racing PUTs on one item.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opwrited
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- an account: vaults Demo and Load, items made with op ----
account_create "write daemon test password $$"
printf 'runbook line 1\nrunbook line 2\n' >"$T/work/runbook.txt"
setup() {
    op vault create Demo >/dev/null &&
        op vault create Load >/dev/null &&
        op vault create Outside >/dev/null &&
        op item create --vault Demo --category login --title "Web Login" --url https://example.com/login \
            --tags web username=alice "password=canary-write-$$" >/dev/null &&
        op item create --vault Demo --category login --title "Attached" "password=attached-$$" \
            "runbook[file]=$T/work/runbook.txt" >/dev/null &&
        (cd "$T/work" && op connect server create write-srv --vaults Demo,Load >/dev/null)
}
run_setup "account, vaults, items and server set up with op"
DEMO=$(op vault get Demo --format json | jq -r .id)
LOAD=$(op vault get Load --format json | jq -r .id)
OUTSIDE=$(op vault get Outside --format json | jq -r .id)
WEB=$(op item get "Web Login" --vault Demo --format json | jq -r .id)
ATT=$(op item get "Attached" --vault Demo --format json | jq -r .id)
# (No file when the account server keeps its accounts in PostgreSQL.)
if [ "${NET_STORE:-sqlite}" != pg ]; then
    ACCOUNT_DB=$(account_file)
    check "the account file is known ($ACCOUNT_DB)" [ -f "$ACCOUNT_DB" ]
fi
token() { # NAME VAULT-ARGS...: prints the token
    _n=$1
    shift
    op connect token create "$_n" --server write-srv "$@" 2>"$T/tok.err" | tail -n 1
}
TOK=$(token rw --vault Demo --vault Load)
TOK_R=$(token ro --vault Demo,r)
TOK_W=$(token wo --vault Demo,w)

start_daemons "$CREDS"
expect "the read-write token unlocks the server" 200 "$TOK" "/v1/vaults/$DEMO"

ITEMS="/v1/vaults/$DEMO/items"
NOITEM=bbbbbbbbbbbbbbbbbbbbbbbbbb

# wreq METHOD TOKEN PATH [BODY-FILE]: a write with a JSON body from a file.
wreq() {
    _m=$1
    _wt=$2
    _wp=$3
    if [ -n "${4:-}" ]; then
        req "$_wt" "$_wp" -X "$_m" -H 'Content-Type: application/json' --data-binary "@$4"
    else
        req "$_wt" "$_wp" -X "$_m"
    fi
}
# body FILE JSON: write JSON to $T/FILE; prints the path.
body() { printf '%s' "$2" >"$T/$1"; echo "$T/$1"; }
# wexpect DESC CODE METHOD TOKEN PATH BODY-FILE [JQ]: a write and its answer.
wexpect() {
    expect "$1" "$2" "$4" "$5" "${7:-}" -X "$3" -H 'Content-Type: application/json' --data-binary "@$6"
}
# werr DESC CODE METHOD TOKEN PATH BODY-FILE [REGEX]: a refused write.
werr() {
    experr "$1" "$2" "$4" "$5" "${7:-.}" -X "$3" -H 'Content-Type: application/json' --data-binary "@$6"
}

# State snapshots: an item as GET shows it (totp removed), and a vault's
# item count, contentVersion and item ids. "Nothing written" compares them.
snap_item() { # ID FILE
    curl -s -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT$ITEMS/$1" |
        jq -S 'del(.fields[]?.totp)' >"$2"
}
snap_vault() { # FILE
    {
        curl -s -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT/v1/vaults/$DEMO" |
            jq -c '{items, contentVersion}'
        curl -s -H "Authorization: Bearer $TOK" "http://127.0.0.1:$APORT$ITEMS" |
            jq -c '[.[] | [.id, .version]] | sort'
    } >"$1"
}
same() { cmp -s "$1" "$2"; }
op_item_jq() { op item get "$1" --vault Demo --format json | jq_e "$2"; } # ID FILTER
# unchanged DESC: the vault and the two op items are as in $T/v0, $T/w0, $T/a0.
unchanged() {
    snap_vault "$T/v1"
    snap_item "$WEB" "$T/w1"
    snap_item "$ATT" "$T/a1"
    if same "$T/v0" "$T/v1" && same "$T/w0" "$T/w1" && same "$T/a0" "$T/a1"; then
        pass "$1: nothing written"
    else
        fail "$1: nothing written" "$(diff "$T/v0" "$T/v1" | head -5; diff "$T/w0" "$T/w1" | head -5)"
    fi
}
baseline() {
    snap_vault "$T/v0"
    snap_item "$WEB" "$T/w0"
    snap_item "$ATT" "$T/a0"
}

# ================= POST =================
CREATE=$(body create.json "{
  \"vault\": {\"id\": \"$DEMO\"}, \"category\": \"LOGIN\", \"title\": \"Created\",
  \"favorite\": true, \"tags\": [\"alpha\", \"beta\"],
  \"urls\": [{\"href\": \"https://a.example\", \"primary\": true}, {\"href\": \"https://b.example\", \"label\": \"backup\"}],
  \"sections\": [{\"label\": \"Server side\"}, {\"id\": \"mine\", \"label\": \"Client side\"}],
  \"fields\": [
    {\"purpose\": \"PASSWORD\", \"generate\": true,
     \"recipe\": {\"length\": 24, \"characterSets\": [\"LETTERS\", \"DIGITS\"], \"excludeCharacters\": \"abcXYZ019\"}},
    {\"label\": \"host\", \"value\": \"db.example\", \"section\": {\"id\": \"mine\"}},
    {\"label\": \"api key\", \"type\": \"CONCEALED\", \"generate\": true},
    {\"label\": \"expires\", \"type\": \"DATE\", \"value\": \"2031-12-31\"},
    {\"label\": \"one-time\", \"type\": \"OTP\", \"value\": \"otpauth://totp/Demo:x?secret=JBSWY3DPEHPK3PXP&issuer=Demo\"}
  ]}")
baseline
wexpect "POST: 200 with the created item" 200 POST "$TOK" "$ITEMS" "$CREATE" \
    "(.id | test(\"^[a-z0-9]{26}\$\")) and .vault.id == \"$DEMO\" and .version == 1 and
     .title == \"Created\" and .category == \"LOGIN\" and .favorite == true and
     (.createdAt | test(\"Z\$\")) and (.updatedAt | test(\"Z\$\")) and (.lastEditedBy | type == \"string\")"
cp "$T/body" "$T/created.json"
CREATED=$(jq -r .id "$T/created.json")
check "POST: Content-Type application/json" grep -qi '^Content-Type: application/json' "$T/hdr"
check "POST: the category's built-in fields (username, password, notesPlain) come first" jq -e \
    '[.fields[0:3][] | [.id, .purpose]] == [["username","USERNAME"],["password","PASSWORD"],["notesPlain","NOTES"]]' \
    "$T/created.json"
check "POST: the generated password follows the recipe (24, letters+digits, exclusions)" jq -e \
    '.fields[] | select(.purpose == "PASSWORD") | (.value | test("^[A-Za-z0-9]{24}$") and
     (test("[abcXYZ019]") | not)) and .label == "password"' "$T/created.json"
check "POST: the generated password has its entropy (> 100 bits)" jq -e \
    '.fields[] | select(.purpose == "PASSWORD") | (.entropy | type == "number" and . > 100)' \
    "$T/created.json"
check "POST: generate without a recipe gives 32 characters with entropy" jq -e \
    '.fields[] | select(.label == "api key") | (.value | length == 32) and .entropy > 100 and .type == "CONCEALED"' \
    "$T/created.json"
check "POST: fields without an id get 26-char server ids" jq -e \
    '[.fields[] | select(.label == "host" or .label == "api key" or .label == "expires") | .id |
      test("^[a-z0-9]{26}$")] | length == 3 and all' "$T/created.json"
check "POST: a section without an id gets a server id; a client's id is kept" jq -e \
    '(.sections | map(.id)) as $ids | ($ids | length == 2) and ($ids[0] | length > 0) and $ids[1] == "mine"' \
    "$T/created.json"
check "POST: the section reference of a field is kept" jq -e \
    '.fields[] | select(.label == "host") | .section.id == "mine" and .value == "db.example"' \
    "$T/created.json"
check "POST: urls (primary, label) and tags as sent" jq -e \
    '(.urls == [{"primary":true,"href":"https://a.example"},{"label":"backup","href":"https://b.example"}]
      or ((.urls | map(.href)) == ["https://a.example","https://b.example"] and .urls[0].primary == true
          and .urls[1].label == "backup")) and .tags == ["alpha","beta"]' "$T/created.json"
check "POST: OTP field answered with its current code" jq -e \
    '.fields[] | select(.type == "OTP") | .totp | test("^[0-9]{6}$")' "$T/created.json"
check "POST: no generate/recipe members are stored or shown" jq -e \
    '[.fields[] | has("generate") or has("recipe")] | any | not' "$T/created.json"
expect "GET right after POST: the same item (read-your-write)" 200 "$TOK" "$ITEMS/$CREATED"
check "GET right after POST: body equals the POST answer (OTP code aside)" sh -c \
    "jq -S 'del(.fields[]?.totp)' '$T/body' >'$T/g.json' && jq -S 'del(.fields[]?.totp)' '$T/created.json' >'$T/c.json' && cmp -s '$T/g.json' '$T/c.json'"
expect "the new item is listed at once, by title" 200 "$TOK" "$ITEMS?filter=title+eq+%22Created%22" \
    "length == 1 and .[0].id == \"$CREATED\" and .[0].version == 1"
snap_vault "$T/v1"
check "the vault's item count grew by one" sh -c \
    "[ \$(head -n 1 '$T/v1' | jq .items) -eq \$((\$(head -n 1 '$T/v0' | jq .items) + 1)) ]"
check "the generated password appears in no log" sh -c \
    "! grep -F -q \"\$(jq -r '.fields[] | select(.purpose == \"PASSWORD\") | .value' '$T/created.json')\" \
       '$T/api.log' '$T/api.err' '$T/sync.log'"

P=$(body minimal.json '{"category":"PASSWORD","title":"Minimal","fields":[{"id":"password","generate":true}]}')
wexpect "POST to items/ (trailing slash, as the JS SDK) without vault.id: 200" 200 POST "$TOK" "$ITEMS/" "$P" \
    '.category == "PASSWORD" and ([.fields[] | select(.purpose == "PASSWORD") | .value | length] == [32])'
MINIMAL=$(jq -r .id "$T/body")
MINIMAL_PW=$(jq -r '.fields[] | select(.id == "password") | .value' "$T/body")
P=$(body note.json '{"category":"secure_note","title":"Lower-case category"}')
wexpect "POST: the category is case-insensitive, built-in notesPlain added" 200 POST "$TOK" "$ITEMS" "$P" \
    '.category == "SECURE_NOTE" and ([.fields[].id] | index("notesPlain") != null)'
P=$(body goempty.json '{"id":"","title":"Go style","category":"LOGIN","vault":{"id":""},
  "fields":[{"id":"","type":"","purpose":"USERNAME","value":"gopher"}],"createdAt":"0001-01-01T00:00:00Z"}')
wexpect "POST: empty strings mean not set (Go SDK body)" 200 POST "$TOK" "$ITEMS" "$P" \
    '(.id | length == 26) and ([.fields[] | select(.purpose == "USERNAME") | .value] == ["gopher"]) and
     (.createdAt | startswith("0001") | not)'

jq --arg id "$WEB" '{id: $id, version: 7, title: "Client id ignored", category: "LOGIN",
    createdAt: "2001-01-01T00:00:00Z", lastEditedBy: "SOMEONE"}' -n >"$T/clientid.json"
wexpect "POST: a client's id, version and timestamps are ignored" 200 POST "$TOK" "$ITEMS" "$T/clientid.json" \
    ".id != \"$WEB\" and .version == 1 and (.createdAt | startswith(\"2001\") | not) and .lastEditedBy != \"SOMEONE\""
expect "... and the item whose id was sent is untouched" 200 "$TOK" "$ITEMS/$WEB" '.title == "Web Login" and .version == 1'

# ---- POST errors: 400 / 413 / 403 / 404, nothing written ----
baseline
bad_post() { # DESC JSON [REGEX]
    werr "400 POST: $1" 400 POST "$TOK" "$ITEMS" "$(body bad.json "$2")" "${3:-.}"
}
bad_post "malformed JSON" '{"category":"LOGIN","title":'
bad_post "trailing data after the object" '{"category":"LOGIN"} x'
bad_post "an array instead of an object" '[{"category":"LOGIN"}]'
bad_post "an empty body" ''
bad_post "title is a number" '{"category":"LOGIN","title":5}'
bad_post "tags is a string" '{"category":"LOGIN","tags":"x"}'
bad_post "fields is an object" '{"category":"LOGIN","fields":{}}'
bad_post "favorite is a string" '{"category":"LOGIN","favorite":"yes"}'
bad_post "a field value is a number" '{"category":"LOGIN","fields":[{"label":"n","value":5}]}'
bad_post "a url without href" '{"category":"LOGIN","urls":[{"label":"x"}]}'
bad_post "an unknown field type" '{"category":"LOGIN","fields":[{"label":"n","type":"BLOB","value":"x"}]}'
bad_post "an unknown purpose" '{"category":"LOGIN","fields":[{"label":"n","purpose":"SECRET","value":"x"}]}'
bad_post "duplicate keys" '{"category":"LOGIN","title":"a","title":"b"}'
bad_post "keys that differ only in case" '{"category":"LOGIN","title":"a","Title":"b"}'
bad_post "no category" '{"title":"x"}'
bad_post "unknown category" '{"category":"SPACESHIP","title":"x"}' '^Invalid item category'
bad_post "category CUSTOM cannot be created" '{"category":"CUSTOM","title":"x"}' 'Invalid item category'
bad_post "category DOCUMENT cannot be created" '{"category":"DOCUMENT","title":"x"}' 'Invalid item category'
bad_post "two PASSWORD fields" \
    '{"category":"LOGIN","fields":[{"purpose":"PASSWORD","value":"a"},{"label":"p2","purpose":"PASSWORD","value":"b"}]}' \
    'You can only use one .password. field'
bad_post "bad DATE (Feb 30)" '{"category":"LOGIN","fields":[{"label":"d","type":"DATE","value":"2023-02-30"}]}'
bad_post "bad DATE (not YYYY-MM-DD)" '{"category":"LOGIN","fields":[{"label":"d","type":"DATE","value":"31/12/2023"}]}'
bad_post "bad MONTH_YEAR" '{"category":"LOGIN","fields":[{"label":"m","type":"MONTH_YEAR","value":"202313"}]}'
bad_post "OTP value that is not an otpauth URI" '{"category":"LOGIN","fields":[{"label":"o","type":"OTP","value":"123456"}]}'
bad_post "recipe length 0" '{"category":"LOGIN","fields":[{"id":"password","generate":true,"recipe":{"length":0}}]}'
bad_post "recipe length 65" '{"category":"LOGIN","fields":[{"id":"password","generate":true,"recipe":{"length":65}}]}'
bad_post "unknown character set" \
    '{"category":"LOGIN","fields":[{"id":"password","generate":true,"recipe":{"characterSets":["EMOJI"]}}]}'
bad_post "a field naming a missing section" '{"category":"LOGIN","fields":[{"label":"x","value":"y","section":{"id":"nope"}}]}'
bad_post "two sections with one id" '{"category":"LOGIN","sections":[{"id":"s","label":"a"},{"id":"s","label":"b"}]}'
bad_post "vault.id not the path's vault" "{\"category\":\"LOGIN\",\"vault\":{\"id\":\"$LOAD\"}}" 'vault'
bad_post "invalid UTF-8" "$(printf '{"category":"LOGIN","title":"\377"}')"
DEEP=$("$PY" -c 'print("{\"category\":\"LOGIN\",\"title\":\"x\",\"sections\":[{\"id\":\"s\",\"label\":" + "[" * 40 + "]" * 40 + "}]}")')
bad_post "nesting 40 levels deep" "$DEEP"
"$PY" -c 'import sys; sys.stdout.write("{\"category\":\"LOGIN\",\"title\":\"" + "x" * (1024 * 1024 + 10) + "\"}")' >"$T/big.json"
werr "413 POST: a body over 1 MiB" 413 POST "$TOK" "$ITEMS" "$T/big.json"
req "$TOK" "$ITEMS" -X POST -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/big.json"
# A chunked body has no length to hold it to a deadline: 411 (docs/http.md).
check "411 POST: a chunked body (no Content-Length) is refused ($CODE)" [ "$CODE" = 411 ]
unchanged "refused POSTs (400, 411, 413)"
"$PY" -c 'import sys; sys.stdout.write("{\"category\":\"LOGIN\",\"title\":\"" + "x" * (1024 * 1024 - 100) + "\"}")' >"$T/almost.json"
req "$TOK" "$ITEMS" -X POST -H 'Content-Type: application/json' --data-binary "@$T/almost.json"
# Not merely "not 413": a crash or a refused connection is not 413 either.
check "a body just under 1 MiB is accepted, not refused as too large ($CODE)" [ "$CODE" = 200 ]
if [ "$CODE" = 200 ]; then
    req "$TOK" "$ITEMS/$(jq -r .id "$T/body")" -X DELETE
fi
baseline
werr "403 POST: read-only token" 403 POST "$TOK_R" "$ITEMS" "$CREATE" 'permission to perform create'
werr "403 POST: vault outside the token" 403 POST "$TOK_R" "/v1/vaults/$LOAD/items" "$CREATE" 'not in scope'
werr "404 POST: vault not granted to the server" 404 POST "$TOK" "/v1/vaults/$OUTSIDE/items" "$CREATE" \
    "vault $OUTSIDE not found"
werr "400 POST: invalid vault id" 400 POST "$TOK" "/v1/vaults/nope/items" "$CREATE" 'Invalid Vault UUID'
experr "401 POST: no token" 401 - "$ITEMS" 'Invalid bearer token' -X POST --data-binary "@$CREATE"
unchanged "refused POSTs (403, 404, 401)"

# ================= PUT =================
expect "GET the item to replace" 200 "$TOK" "$ITEMS/$WEB" '.version == 1'
cp "$T/body" "$T/web1.json"
jq '.title = "Web Login (edited)" | .tags = ["web","edited"] |
    (.fields[] | select(.purpose == "PASSWORD") | .value) = "canary-write-new-'$$'" |
    .fields += [{"label":"note","value":"added by PUT"}]' "$T/web1.json" >"$T/put.json"
wexpect "PUT: 200 with the replaced item, version 2" 200 PUT "$TOK" "$ITEMS/$WEB" "$T/put.json" \
    ".id == \"$WEB\" and .version == 2 and .title == \"Web Login (edited)\" and .tags == [\"web\",\"edited\"] and
     ([.fields[] | select(.purpose == \"PASSWORD\") | .value] == [\"canary-write-new-$$\"]) and
     ([.fields[] | select(.label == \"note\") | .id | test(\"^[a-z0-9]{26}\$\")] == [true])"
cp "$T/body" "$T/put-answer.json"
check "PUT: createdAt kept, updatedAt set" jq -e --slurpfile a "$T/web1.json" \
    '.createdAt == $a[0].createdAt and (.updatedAt | test("Z$"))' "$T/put-answer.json"
check "PUT: the password history is not shown" jq -e \
    '[.. | objects | has("passwordHistory") or has("password_details") or has("history")] | any | not' \
    "$T/put-answer.json"
check "PUT: the old password appears nowhere in the answer" sh -c "! grep -q 'canary-write-$$\"' '$T/put-answer.json'"
expect "GET after PUT: the change is kept, version 2" 200 "$TOK" "$ITEMS/$WEB" \
    "([.fields[] | select(.purpose == \"PASSWORD\") | .value] == [\"canary-write-new-$$\"]) and .version == 2 and
     ([.. | objects | has(\"passwordHistory\")] | any | not)"
check "GET after PUT equals the PUT answer" sh -c \
    "jq -S 'del(.fields[]?.totp)' '$T/body' >'$T/g.json' && jq -S 'del(.fields[]?.totp)' '$T/put-answer.json' >'$T/c.json' && cmp -s '$T/g.json' '$T/c.json'"
# A second PUT that leaves the password alone: it stays, history still hidden.
jq '.title = "Web Login"' "$T/put-answer.json" >"$T/put2.json"
wexpect "PUT again (title only): the new password stays, version 3" 200 PUT "$TOK" "$ITEMS/$WEB" "$T/put2.json" \
    "([.fields[] | select(.purpose == \"PASSWORD\") | .value] == [\"canary-write-new-$$\"]) and .version == 3 and
     ([.. | objects | has(\"passwordHistory\")] | any | not)"
cp "$T/body" "$T/web3.json"
expect "the summary in the list shows the new version and title" 200 "$TOK" "$ITEMS?filter=title+eq+%22Web+Login%22" \
    ".[0].id == \"$WEB\" and .[0].version == 3 and length == 1"
jq 'del(.version)' "$T/web3.json" | jq '.title = "No version sent"' >"$T/put-nov.json"
wexpect "PUT without a version in the body: 200 (the stored version is expected)" 200 PUT "$TOK" "$ITEMS/$WEB" \
    "$T/put-nov.json" '.version == 4 and .title == "No version sent"'
jq 'del(.fields[] | select(.label == "note"))' "$T/body" >"$T/put-rm.json"
wexpect "PUT without a field removes it" 200 PUT "$TOK" "$ITEMS/$WEB" "$T/put-rm.json" \
    '[.fields[] | select(.label == "note")] | length == 0'
cp "$T/body" "$T/webnow.json"

# ---- PUT errors ----
baseline
jq '.version = 2 | .title = "stale"' "$T/webnow.json" >"$T/stale.json"
werr "409 PUT: a stale version" 409 PUT "$TOK" "$ITEMS/$WEB" "$T/stale.json" 'changed by another request'
unchanged "409 PUT"
jq '.category = "PASSWORD"' "$T/webnow.json" >"$T/cat.json"
werr "400 PUT: changing the category" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/cat.json" 'category'
jq --arg id "$ATT" '.id = $id' "$T/webnow.json" >"$T/otherid.json"
werr "400 PUT: the body's id is another item" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/otherid.json" 'id'
jq --arg v "$LOAD" '.vault.id = $v' "$T/webnow.json" >"$T/othervault.json"
werr "400 PUT: the body's vault is another vault" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/othervault.json" 'vault'
jq '.fields += [{"label":"p2","purpose":"PASSWORD","value":"x"}]' "$T/webnow.json" >"$T/twopw.json"
werr "400 PUT: two PASSWORD fields" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/twopw.json" 'one .password. field'
jq '.fields += [{"label":"d","type":"DATE","value":"2024-13-01"}]' "$T/webnow.json" >"$T/baddate.json"
werr "400 PUT: bad DATE" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/baddate.json"
werr "400 PUT: malformed JSON" 400 PUT "$TOK" "$ITEMS/$WEB" "$(body bad.json '{"title":')"
werr "400 PUT: an empty body" 400 PUT "$TOK" "$ITEMS/$WEB" "$(body bad.json '')"
werr "400 PUT: wrong type" 400 PUT "$TOK" "$ITEMS/$WEB" "$(body bad.json '{"category":"LOGIN","urls":"x"}')"
werr "400 PUT: deep nesting" 400 PUT "$TOK" "$ITEMS/$WEB" "$(body bad.json "$DEEP")"
werr "413 PUT: over 1 MiB" 413 PUT "$TOK" "$ITEMS/$WEB" "$T/big.json"
# version: an integer from 1 up, absent or null; anything else is 400, never
# a write without the version check.
for v in 0 -1 '"1"' 1.5 18446744073709551617 true; do
    jq --argjson v "$v" '.version = $v' "$T/webnow.json" >"$T/badver.json"
    werr "400 PUT: version $v" 400 PUT "$TOK" "$ITEMS/$WEB" "$T/badver.json" 'version must be a positive integer'
done
werr "404 PUT: an item id with 0, 1, 8, 9" 404 PUT "$TOK" "$ITEMS/a0b1c8d9eeeeeeeeeeeeeeeeee" \
    "$T/webnow.json" 'item a0b1c8d9eeeeeeeeeeeeeeeeee not found'
werr "403 PUT: read-only token" 403 PUT "$TOK_R" "$ITEMS/$WEB" "$T/webnow.json" 'permission to perform update'
werr "404 PUT: unknown item" 404 PUT "$TOK" "$ITEMS/$NOITEM" "$T/webnow.json" "item $NOITEM not found"
werr "400 PUT: invalid item id" 400 PUT "$TOK" "$ITEMS/xyz" "$T/webnow.json" 'Invalid Item UUID'
werr "403 PUT: vault outside the token" 403 PUT "$TOK_R" "/v1/vaults/$LOAD/items/$WEB" "$T/webnow.json" 'not in scope'
werr "404 PUT: an item of another vault" 404 PUT "$TOK" "/v1/vaults/$LOAD/items/$WEB" "$T/webnow.json" 'not found'
experr "405: PUT on the item list" 405 "$TOK" "$ITEMS" . -X PUT --data-binary "@$T/webnow.json"
experr "405: POST on an item" 405 "$TOK" "$ITEMS/$WEB" . -X POST --data-binary "@$T/webnow.json"
unchanged "refused PUTs"

# ================= PATCH =================
# Each case: the patch, then a jq check on the answer; the answer must equal
# the next GET, and the version must grow by one.
PV=$(jq .version "$T/webnow.json")
patch_ok() { # DESC PATCH-JSON JQ
    _pf=$(body patch.json "$2")
    wexpect "PATCH $1" 200 PATCH "$TOK" "$ITEMS/$WEB" "$_pf" \
        "($3) and .version == $((PV + 1))"
    if [ "$CODE" = 200 ]; then
        PV=$((PV + 1))
        jq -S 'del(.fields[]?.totp)' "$T/body" >"$T/pa.json"
        snap_item "$WEB" "$T/pg.json"
        check "PATCH $1: GET shows the patched item" cmp -s "$T/pa.json" "$T/pg.json"
    fi
}
patch_ok "replace /title" '[{"op":"replace","path":"/title","value":"Patched"}]' '.title == "Patched"'
patch_ok "add /favorite" '[{"op":"add","path":"/favorite","value":true}]' '.favorite == true'
patch_ok "op in upper case" '[{"op":"REPLACE","path":"/title","value":"Patched again"}]' '.title == "Patched again"'
patch_ok "add /fields/a~1b~0c (RFC 6901 escapes: field id a/b~c)" \
    '[{"op":"add","path":"/fields/a~1b~0c","value":{"label":"escaped","value":"e"}}]' \
    '[.fields[] | select(.id == "a/b~c") | .value] == ["e"]'
patch_ok "remove /fields/a~1b~0c" '[{"op":"remove","path":"/fields/a~1b~0c"}]' \
    '[.fields[] | select(.id == "a/b~c")] | length == 0'
patch_ok "add /tags (a string appends)" '[{"op":"add","path":"/tags","value":"new"}]' '.tags[-1] == "new"'
patch_ok "add /tags/- and replace /tags/0" \
    '[{"op":"add","path":"/tags/-","value":"last"},{"op":"replace","path":"/tags/0","value":"first"}]' \
    '.tags[0] == "first" and .tags[-1] == "last"'
patch_ok "remove /tags/1" '[{"op":"remove","path":"/tags/1"}]' '(.tags | index("edited")) == null'
patch_ok "add /tags (an array replaces)" '[{"op":"add","path":"/tags","value":["x","y"]}]' '.tags == ["x","y"]'
patch_ok "add /urls (an object appends)" '[{"op":"add","path":"/urls","value":{"href":"https://c.example"}}]' \
    '.urls[-1].href == "https://c.example"'
patch_ok "/urls/<i>/href, /label, /primary" \
    '[{"op":"replace","path":"/urls/1/href","value":"https://d.example"},{"op":"add","path":"/urls/1/label","value":"d"},{"op":"add","path":"/urls/1/primary","value":true},{"op":"remove","path":"/urls/0"}]' \
    '.urls[0].href == "https://d.example" and .urls[0].label == "d" and .urls[0].primary == true'
patch_ok "add /sections (an object appends)" '[{"op":"add","path":"/sections","value":{"id":"sec1","label":"One"}}]' \
    '[.sections[] | select(.id == "sec1") | .label] == ["One"]'
patch_ok "/sections/<id>/label and add /sections/<id>" \
    '[{"op":"replace","path":"/sections/sec1/label","value":"Uno"},{"op":"add","path":"/sections/sec2","value":{"label":"Two"}}]' \
    '([.sections[] | select(.id == "sec1") | .label] == ["Uno"]) and ([.sections[] | select(.id == "sec2") | .label] == ["Two"])'
patch_ok "add /fields (a field without id: server id)" \
    '[{"op":"add","path":"/fields","value":{"label":"pin","type":"CONCEALED","value":"1234","section":{"id":"sec1"}}}]' \
    '[.fields[] | select(.label == "pin") | (.id | test("^[a-z0-9]{26}$")) and .section.id == "sec1"] == [true]'
PIN=$(jq -r '.fields[] | select(.label == "pin") | .id' "$T/body")
patch_ok "replace /fields/<id>/value and /label" \
    "[{\"op\":\"replace\",\"path\":\"/fields/$PIN/value\",\"value\":\"9999\"},{\"op\":\"replace\",\"path\":\"/fields/$PIN/label\",\"value\":\"PIN\"}]" \
    "[.fields[] | select(.id == \"$PIN\") | [.value, .label]] == [[\"9999\",\"PIN\"]]"
patch_ok "/fields/<id>/section/id and /type" \
    "[{\"op\":\"replace\",\"path\":\"/fields/$PIN/section/id\",\"value\":\"sec2\"},{\"op\":\"replace\",\"path\":\"/fields/$PIN/type\",\"value\":\"STRING\"}]" \
    "[.fields[] | select(.id == \"$PIN\") | [.section.id, .type]] == [[\"sec2\",\"STRING\"]]"
patch_ok "remove /fields/<id>/section" "[{\"op\":\"remove\",\"path\":\"/fields/$PIN/section\"}]" \
    "[.fields[] | select(.id == \"$PIN\") | has(\"section\")] == [false]"
patch_ok "replace /fields/password/value (connect#58)" \
    '[{"op":"replace","path":"/fields/password/value","value":"patched-pw"}]' \
    '[.fields[] | select(.id == "password") | .value] == ["patched-pw"]'
patch_ok "remove /fields/password/value, then generate with a recipe" \
    '[{"op":"remove","path":"/fields/password/value"},{"op":"add","path":"/fields/password/generate","value":true},{"op":"add","path":"/fields/password/recipe","value":{"length":12,"characterSets":["DIGITS"]}}]' \
    '[.fields[] | select(.id == "password") | (.value | test("^[0-9]{12}$")) and .entropy > 30] == [true]'
patch_ok "/fields/<id>/recipe/length, /characterSets/<i>, /excludeCharacters with generate" \
    '[{"op":"remove","path":"/fields/password/value"},{"op":"add","path":"/fields/password/generate","value":true},{"op":"add","path":"/fields/password/recipe","value":{"length":5,"characterSets":["DIGITS"]}},{"op":"replace","path":"/fields/password/recipe/length","value":16},{"op":"replace","path":"/fields/password/recipe/characterSets/0","value":"LETTERS"},{"op":"add","path":"/fields/password/recipe/excludeCharacters","value":"aeiouAEIOU"}]' \
    '[.fields[] | select(.id == "password") | .value | test("^[B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{16}$")] == [true]'
patch_ok "add /fields/<new id> appends a field with that id" \
    '[{"op":"add","path":"/fields/myfield","value":{"label":"mine","value":"v"}}]' \
    '[.fields[] | select(.id == "myfield") | .value] == ["v"]'
patch_ok "replace /fields/<id> swaps the field" \
    '[{"op":"replace","path":"/fields/myfield","value":{"id":"myfield","label":"mine2","type":"EMAIL","value":"a@example.com"}}]' \
    '[.fields[] | select(.id == "myfield") | [.label, .type]] == [["mine2","EMAIL"]]'
patch_ok "/fields/<id>/purpose" '[{"op":"replace","path":"/fields/myfield/purpose","value":""}]' \
    '[.fields[] | select(.id == "myfield")] | length == 1'
patch_ok "remove /fields/<id> and /sections/<id>" \
    "[{\"op\":\"remove\",\"path\":\"/fields/myfield\"},{\"op\":\"remove\",\"path\":\"/fields/$PIN\"},{\"op\":\"remove\",\"path\":\"/sections/sec2\"}]" \
    "([.fields[] | select(.id == \"myfield\" or .id == \"$PIN\")] | length == 0) and ([.sections[]? | select(.id == \"sec2\")] | length == 0)"
patch_ok "replace /category re-spelt" '[{"op":"replace","path":"/category","value":"login"}]' '.category == "LOGIN"'
patch_ok "replace /urls and /tags wholesale, remove /sections" \
    '[{"op":"replace","path":"/urls","value":[{"href":"https://e.example"}]},{"op":"replace","path":"/tags","value":["t"]},{"op":"remove","path":"/sections"}]' \
    '(.urls | map(.href)) == ["https://e.example"] and .tags == ["t"] and ((.sections // []) | length == 0)'
expect "GET before the whole-item PATCH" 200 "$TOK" "$ITEMS/$WEB"
jq -c '.title = "Whole" | [{"op":"replace","path":"/","value":.}]' "$T/body" >"$T/whole.json"
patch_ok "replace / (the whole item, read-only members sent back)" "$(cat "$T/whole.json")" '.title == "Whole"'
jq -c '.title = "Whole again" | [{"op":"add","path":"","value":.}]' "$T/body" >"$T/whole.json"
patch_ok "add \"\" (the whole item)" "$(cat "$T/whole.json")" '.title == "Whole again"'
snap_item "$WEB" "$T/before-empty.json"
wexpect "PATCH []: 200 with the item unchanged" 200 PATCH "$TOK" "$ITEMS/$WEB" "$(body patch.json '[]')" \
    ".id == \"$WEB\" and .version == $PV and .title == \"Whole again\""
jq -S 'del(.fields[]?.totp)' "$T/body" >"$T/pa.json"
check "PATCH []: the answer is the stored item" cmp -s "$T/pa.json" "$T/before-empty.json"
snap_item "$WEB" "$T/after-empty.json"
check "PATCH []: nothing written (version and content)" cmp -s "$T/before-empty.json" "$T/after-empty.json"
cp "$T/after-empty.json" "$T/webnow.json"

# ---- PATCH errors: 400 (nothing written), 413, 403, 404 ----
baseline
bad_patch() { # DESC PATCH-JSON [REGEX]
    werr "400 PATCH: $1" 400 PATCH "$TOK" "$ITEMS/$WEB" "$(body bad.json "$2")" "${3:-.}"
}
bad_patch "malformed JSON" '[{"op":"replace","path":"/title",'
bad_patch "an empty body" ''
bad_patch "not an array" '{"op":"replace","path":"/title","value":"x"}'
bad_patch "an operation that is not an object" '["replace"]'
bad_patch "op move" '[{"op":"move","from":"/title","path":"/tags/0"}]'
bad_patch "op copy" '[{"op":"copy","from":"/title","path":"/tags/0"}]'
bad_patch "op test" '[{"op":"test","path":"/title","value":"x"}]'
bad_patch "an unknown op" '[{"op":"frobnicate","path":"/title","value":"x"}]'
bad_patch "no path" '[{"op":"replace","value":"x"}]'
bad_patch "replace without a value" '[{"op":"replace","path":"/title"}]'
bad_patch "a path without a leading /" '[{"op":"replace","path":"title","value":"x"}]'
bad_patch "a bad ~ escape" '[{"op":"replace","path":"/ti~2tle","value":"x"}]'
bad_patch "an unknown member" '[{"op":"add","path":"/color","value":"red"}]'
bad_patch "/Title (case variant)" '[{"op":"replace","path":"/Title","value":"x"}]'
bad_patch "read-only /id" '[{"op":"replace","path":"/id","value":"x"}]' 'read-only'
bad_patch "read-only /version" '[{"op":"replace","path":"/version","value":9}]' 'read-only'
bad_patch "read-only /vault" "[{\"op\":\"replace\",\"path\":\"/vault\",\"value\":{\"id\":\"$LOAD\"}}]" 'read-only'
bad_patch "read-only /files" '[{"op":"add","path":"/files","value":[]}]' 'read-only'
bad_patch "read-only /fields/<id>/entropy" '[{"op":"replace","path":"/fields/password/entropy","value":1}]' 'read-only'
bad_patch "remove / (that is DELETE)" '[{"op":"remove","path":"/"}]'
bad_patch "a missing field" '[{"op":"replace","path":"/fields/nope/value","value":"x"}]' \
    "The item doesn't have a nope field"
bad_patch "remove a missing field" '[{"op":"remove","path":"/fields/nope"}]' "The item doesn't have a nope field"
bad_patch "a missing section" '[{"op":"replace","path":"/sections/nope/label","value":"x"}]' 'section'
bad_patch "an index past the end" '[{"op":"replace","path":"/tags/99","value":"x"}]'
bad_patch "remove /tags/-" '[{"op":"remove","path":"/tags/-"}]'
bad_patch "an empty field id" '[{"op":"replace","path":"/fields/","value":{}}]'
bad_patch "a field id that contradicts the path" '[{"op":"add","path":"/fields/abc","value":{"id":"xyz","label":"l"}}]'
bad_patch "favorite set to a string" '[{"op":"replace","path":"/favorite","value":"yes"}]'
bad_patch "the whole item set to a string" '[{"op":"replace","path":"/","value":"x"}]'
bad_patch "changing the category" '[{"op":"replace","path":"/category","value":"PASSWORD"}]' 'category'
bad_patch "a second PASSWORD field" '[{"op":"add","path":"/fields","value":{"label":"p2","purpose":"PASSWORD","value":"x"}}]' \
    'one .password. field'
bad_patch "a bad DATE" '[{"op":"add","path":"/fields","value":{"label":"d","type":"DATE","value":"2023-02-29"}}]'
bad_patch "a type change that makes a value invalid" '[{"op":"replace","path":"/fields/username/type","value":"DATE"}]'
bad_patch "the second operation fails: the first is not applied" \
    '[{"op":"replace","path":"/title","value":"half"},{"op":"replace","path":"/fields/nope/value","value":"x"}]'
bad_patch "deep nesting" "[{\"op\":\"add\",\"path\":\"/tags/-\",\"value\":$("$PY" -c 'print("[" * 40 + "]" * 40)')}]"
"$PY" -c 'import sys; sys.stdout.write("[{\"op\":\"replace\",\"path\":\"/title\",\"value\":\"" + "x" * (1024 * 1024 + 10) + "\"}]")' >"$T/bigpatch.json"
werr "413 PATCH: over 1 MiB" 413 PATCH "$TOK" "$ITEMS/$WEB" "$T/bigpatch.json"
"$PY" -c 'import json, sys; sys.stdout.write(json.dumps([{"op":"add","path":"/tags/-","value":"t"}] * 1001))' >"$T/manyops.json"
req "$TOK" "$ITEMS/$WEB" -X PATCH -H 'Content-Type: application/json' --data-binary "@$T/manyops.json"
check "PATCH with 1,001 operations is refused (413 or 400: $CODE)" sh -c "[ '$CODE' = 413 ] || [ '$CODE' = 400 ]"
P=$(body patch.json '[{"op":"replace","path":"/title","value":"by a read-only token"}]')
werr "403 PATCH: read-only token" 403 PATCH "$TOK_R" "$ITEMS/$WEB" "$P" 'permission to perform update'
werr "403 PATCH: write-only token (no read permission)" 403 PATCH "$TOK_W" "$ITEMS/$WEB" "$P" 'permission'
check "403 PATCH (write-only): the answer shows nothing of the item" sh -c \
    "! grep -q -e 'Whole again' -e 'patched' -e 'alice' -e '\"fields\"' '$T/body'"
werr "403 PATCH: write-only token, empty patch" 403 PATCH "$TOK_W" "$ITEMS/$WEB" "$(body e.json '[]')" 'permission'
werr "403 PATCH: write-only token, a patch that would fail on the item" 403 PATCH "$TOK_W" "$ITEMS/$WEB" \
    "$(body e.json '[{"op":"replace","path":"/fields/nope/value","value":"x"}]')" 'permission'
werr "403 PATCH: write-only token, unknown item (no existence oracle)" 403 PATCH "$TOK_W" "$ITEMS/$NOITEM" "$P" 'permission'
werr "404 PATCH: unknown item" 404 PATCH "$TOK" "$ITEMS/$NOITEM" "$P" "item $NOITEM not found"
werr "400 PATCH: invalid item id" 400 PATCH "$TOK" "$ITEMS/not-an-id" "$P" 'Invalid Item UUID'
unchanged "refused PATCHes"

# ---- an item with a file: PUT and PATCH keep it ----
expect "GET the item with a file" 200 "$TOK" "$ITEMS/$ATT" '.files | length == 1'
jq '.title = "Attached (PUT)" | del(.files)' "$T/body" >"$T/attput.json"
wexpect "PUT without files keeps the item's file (answered to a read-write token)" 200 PUT "$TOK" \
    "$ITEMS/$ATT" "$T/attput.json" '.title == "Attached (PUT)" and (.files | length == 1 and .[0].name == "runbook")'
jq -c '.title = "Attached" | .files = [] | [{"op":"replace","path":"/","value":.}]' "$T/body" >"$T/attpatch.json"
wexpect "PATCH replace / with files: [] keeps the item's file (files are read-only)" 200 PATCH "$TOK" \
    "$ITEMS/$ATT" "$T/attpatch.json" '.title == "Attached" and (.files | length == 1)'

# ---- write-only and read-only tokens: reads refused, answers show nothing stored ----
experr "403: write-only token GET item" 403 "$TOK_W" "$ITEMS/$WEB" 'permission'
experr "403: write-only token list items" 403 "$TOK_W" "$ITEMS" 'permission'
experr "403: write-only token list with a filter" 403 "$TOK_W" "$ITEMS?filter=title+eq+%22Whole+again%22" 'permission'
experr "403: write-only token GET vault" 403 "$TOK_W" "/v1/vaults/$DEMO" 'permission'
expect "write-only token: the vault list is empty" 200 "$TOK_W" /v1/vaults 'length == 0'
P=$(body wo.json "{\"category\":\"LOGIN\",\"title\":\"From a write-only token\",\"fields\":[{\"id\":\"password\",\"generate\":true}]}")
wexpect "write-only token: POST is allowed and answers what it created" 200 POST "$TOK_W" "$ITEMS" "$P" \
    '.title == "From a write-only token" and ([.fields[] | select(.id == "password") | .value | length] == [32])'
WO=$(jq -r .id "$T/body")
snap_item "$ATT" "$T/att.json"
jq '{title: "Attached (replaced by a write-only token)", category: "LOGIN",
     fields: [{id: "password", value: "attached-'$$'"}]}' "$T/att.json" >"$T/woput.json"
wexpect "write-only token: PUT is allowed" 200 PUT "$TOK_W" "$ITEMS/$ATT" "$T/woput.json" \
    '.title == "Attached (replaced by a write-only token)"'
check "write-only token: the PUT answer shows no stored file of the item" jq -e \
    '(has("files") | not) or (.files | length == 0)' "$T/body"
jq -n --arg pw "$MINIMAL_PW" '{category: "PASSWORD", title: "Minimal", fields: [{id: "password", value: $pw}]}' \
    >"$T/wopw.json"
P="$T/wopw.json"
wexpect "write-only token: PUT sending the stored generated password back" 200 PUT "$TOK_W" "$ITEMS/$MINIMAL" "$P"
check "write-only token: the PUT answer carries no stored entropy (no password oracle)" jq -e \
    '[.fields[] | has("entropy")] | any | not' "$T/body"
expect "the read-write token still sees the entropy kept" 200 "$TOK" "$ITEMS/$MINIMAL" \
    '[.fields[] | select(.id == "password") | .entropy > 100] == [true]'
expect "the item keeps its file (read with the read-write token)" 200 "$TOK" "$ITEMS/$ATT" \
    '.files | length == 1 and .[0].name == "runbook" and (.[0].content_path | startswith("/v1/vaults/"))'
werr "409 PUT (write-only): a stale version" 409 PUT "$TOK_W" "$ITEMS/$ATT" \
    "$(jq '.version = 1' "$T/woput.json" >"$T/wo409.json"; echo "$T/wo409.json")"

# ================= DELETE =================
baseline
req "$TOK_R" "$ITEMS/$CREATED" -X DELETE
check "403 DELETE: read-only token ($CODE)" [ "$CODE" = 403 ]
check "403 DELETE: JSON body" jq -e '.status == 403 and (.message | test("permission to perform delete"))' "$T/body"
unchanged "403 DELETE"
req "$TOK" "$ITEMS/$CREATED" -X DELETE -H 'Content-Type: application/json'
check "DELETE: 204 ($CODE)" [ "$CODE" = 204 ]
check "DELETE: empty body" [ ! -s "$T/body" ]
check "DELETE: no Content-Length on the 204" sh -c "! grep -qi '^Content-Length' '$T/hdr'"
experr "GET after DELETE: 404 at once" 404 "$TOK" "$ITEMS/$CREATED" "item $CREATED not found"
expect "the deleted item is not listed" 200 "$TOK" "$ITEMS" "[.[].id] | index(\"$CREATED\") == null"
expect "the vault's item count went down" 200 "$TOK" "/v1/vaults/$DEMO" \
    ".items == $(($(head -n 1 "$T/v0" | jq .items) - 1))"
req "$TOK" "$ITEMS/$CREATED" -X DELETE
check "DELETE again: 404 ($CODE)" [ "$CODE" = 404 ]
check "DELETE again: JSON body" jq -e ".status == 404 and .message == \"item $CREATED not found\"" "$T/body"
werr "PUT on the deleted item: 404" 404 PUT "$TOK" "$ITEMS/$CREATED" "$T/created.json" 'not found'
werr "PATCH on the deleted item: 404" 404 PATCH "$TOK" "$ITEMS/$CREATED" "$(body e.json '[]')" 'not found'
req "$TOK" "$ITEMS/$NOITEM" -X DELETE
check "DELETE an unknown item: 404 ($CODE)" [ "$CODE" = 404 ]
req "$TOK" "$ITEMS/xyz" -X DELETE
check "DELETE an invalid id: 400 ($CODE)" [ "$CODE" = 400 ]
req "$TOK_R" "/v1/vaults/$LOAD/items/$WEB" -X DELETE
check "DELETE in a vault outside the token: 403 ($CODE)" [ "$CODE" = 403 ]
req "$TOK_W" "$ITEMS/$WO" -X DELETE
check "DELETE with a write-only token: 204 ($CODE)" [ "$CODE" = 204 ]
req "$TOK" "$ITEMS/$MINIMAL/" -X DELETE
check "DELETE items/{id}/ (trailing slash): 204 ($CODE)" [ "$CODE" = 204 ]

# ================= 503: the upstream is gone =================
# (the account file moves away; over the network, op-account-server stops)
baseline
check "$UPSTREAM_WHAT goes away" upstream_down
werr "503 POST while $UPSTREAM_WHAT is away" 503 POST "$TOK" "$ITEMS" "$CREATE" 'reads keep working'
werr "503 PUT while $UPSTREAM_WHAT is away" 503 PUT "$TOK" "$ITEMS/$WEB" "$(
    jq '.title = "not written"' "$T/webnow.json" >"$T/p503.json"; echo "$T/p503.json")"
werr "503 PATCH while $UPSTREAM_WHAT is away" 503 PATCH "$TOK" "$ITEMS/$WEB" \
    "$(body p.json '[{"op":"replace","path":"/title","value":"not written"}]')"
req "$TOK" "$ITEMS/$ATT" -X DELETE
check "503 DELETE while $UPSTREAM_WHAT is away ($CODE)" [ "$CODE" = 503 ]
check "the write's 503 carries Retry-After ($(header Retry-After))" [ "$(header Retry-After)" = 5 ]
expect "GET item still works while $UPSTREAM_WHAT is away" 200 "$TOK" "$ITEMS/$WEB" ".id == \"$WEB\""
expect "GET list still works while $UPSTREAM_WHAT is away" 200 "$TOK" "$ITEMS" 'length > 0'
expect "GET vaults still works while $UPSTREAM_WHAT is away" 200 "$TOK" /v1/vaults 'length == 2'
werr "400 still comes before 503 (validation first)" 400 POST "$TOK" "$ITEMS" "$(body bad.json '{"category":"SPACESHIP"}')"
unchanged "503 writes"
check "$UPSTREAM_WHAT comes back" upstream_up
P=$(body back.json '{"category":"PASSWORD","title":"After 503","fields":[{"id":"password","value":"x"}]}')
wexpect "writes work again once $UPSTREAM_WHAT is back" 200 POST "$TOK" "$ITEMS" "$P" '.title == "After 503"'
AFTER=$(jq -r .id "$T/body")
check "the item written after the 503 exists in the account (op)" op_item_jq "$AFTER" '.title == "After 503"'

# ---- the API's writes reach the account and the sync ----
check "an API write is visible to op (the account file)" op_item_jq "$WEB" '.title == "Whole again"'
check "connect-sync is still healthy after the writes" sync_done
check "every write answer carried 1Password-Connect-Version ($NREQ responses, $NOVER without)" [ "$NOVER" -eq 0 ]
check "no token, password or canary in the logs" sh -c \
    "! grep -F -q -e '${TOK##*.}' -e '${TOK_W##*.}' -e 'canary-write-' -e 'patched-pw' -e 'attached-$$' \
       '$T/api.log' '$T/api.err' '$T/sync.log' '$T/sync.err'"

# ================= concurrency =================
# Must show 2: read-your-write, 1,000 create->get pairs from 8 clients.
if OPC_TOKEN="$TOK" "$PY" "$HERE/concurrency.py" ryw "$APORT" "$LOAD" 8 1000 >"$T/ryw.json" 2>"$T/ryw.err"; then
    jq -r '"   read-your-write: \(.pairs) pairs from \(.clients) clients in \(.seconds) s, \(.misses) misses, \(.post_errors) failed POSTs; POST p50 \(.post_p50_ms) ms p99 \(.post_p99_ms) ms, GET p50 \(.get_p50_ms) ms p99 \(.get_p99_ms) ms"' "$T/ryw.json"
    check "read-your-write: 1,000 create->get pairs from 8 clients, zero misses" \
        jq -e '.pairs == 1000 and .misses == 0 and .post_errors == 0' "$T/ryw.json"
    jq -r '.examples[]' "$T/ryw.json" | head -5
else
    fail "read-your-write client ran" "$(tail -5 "$T/ryw.err")"
fi
expect "all 1,000 items are listed" 200 "$TOK" "/v1/vaults/$LOAD/items?filter=tag+eq+%22ryw%22" 'length == 1000'
expect "the Load vault counts them" 200 "$TOK" "/v1/vaults/$LOAD" '.items == 1000'

# Must show 3: 8 clients updating one item, each with the version it read.
P=$(body race.json "{\"category\":\"SECURE_NOTE\",\"title\":\"race\",\"fields\":[{\"id\":\"notesPlain\",\"value\":\"start\"}]}")
wexpect "the item to race on" 200 POST "$TOK" "/v1/vaults/$LOAD/items" "$P" '.version == 1'
RACE=$(jq -r .id "$T/body")
if OPC_TOKEN="$TOK" "$PY" "$HERE/concurrency.py" race "$APORT" "$LOAD" 8 25 "$RACE" >"$T/race.json" 2>"$T/race.err"; then
    jq -r '"   racing PUTs: \(.clients) clients x \(.rounds) rounds in \(.seconds) s: \(.ok) x 200, \(.conflict) x 409, \(.other) other; version \(.start_version) -> \(.final_version)"' "$T/race.json"
    check "racing PUTs: every answer is 200 or 409 (JSON)" jq -e '.other == 0 and .ok + .conflict == 200' "$T/race.json"
    check "racing PUTs: some succeed and some conflict" jq -e '.ok > 0 and .conflict > 0' "$T/race.json"
    check "racing PUTs: the version grew by exactly one per success" \
        jq -e '.final_version == .start_version + .ok and .versions_consecutive' "$T/race.json"
    check "racing PUTs: the final item equals one of the successful writes" jq -e '.final_is_a_win' "$T/race.json"
    jq -r '.examples[]' "$T/race.json" | head -5
else
    fail "racing PUT client ran" "$(tail -5 "$T/race.err")"
fi

echo "   (cpu: connect-api $(awk "{print (\$14+\$15)/100}" /proc/$API_PID/stat) s, connect-sync $(awk "{print (\$14+\$15)/100}" /proc/$SYNC_PID/stat) s)"
# ---- SIGTERM (both at once: each takes a moment to stop) ----
kill -TERM "$SYNC_PID" 2>/dev/null || true
stop_pid API_PID
check "connect-api: SIGTERM exits 0 after the writes" [ "$STOP_RC" -eq 0 ]
stop_pid SYNC_PID
check "connect-sync: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]

echo "connect-write: $NPASS passed, $NFAIL failed"
