#!/bin/sh
# tests/daemon/test_connect_files.sh - the file endpoints of connect-api
# (issue 5 "Files"; connect-api spec §1.3 nos. 10-12, §2.6, §2.9) over real
# HTTP, with connect-sync and connect-api as two processes on one cache:
# list and get (fields, content_path, section, no internal members), both
# inline parameters and the 413 past OP_MAX_INLINE_FILE_SIZE_KB, content
# bytes equal to the originals (one chunk, many chunks, empty), headers
# (Content-Type, Content-Length, Content-Disposition with a tricky name),
# 400/401/403/404/405, 503 for a file whose chunks are not in the cache,
# a tampered chunk (500 before any byte, logged with ids, never its bytes),
# a bad OP_MAX_INLINE_FILE_SIZE_KB, and flat memory while a 20 MiB file
# streams.
set -eu
: "${BUILDDIR:?}" "${RESULTS:?}"
T_PREFIX=opfilesd
. "$(dirname "$0")/lib.sh"
unset OP_MAX_INLINE_FILE_SIZE_KB || true
mkdir -p "$T/files"

# content DESC TOKEN PATH ORIGINAL: 200, octet-stream, Content-Length and the
# bytes equal to ORIGINAL.
content() {
    req "$2" "$3"
    _len=$(wc -c <"$4" | tr -d ' ')
    if [ "$CODE" != 200 ]; then
        fail "$1" "HTTP $CODE: $(head -c 200 "$T/body")"
    elif [ "$(header Content-Type)" != application/octet-stream ]; then
        fail "$1" "Content-Type $(header Content-Type)"
    elif [ "$(header Content-Length)" != "$_len" ]; then
        fail "$1" "Content-Length $(header Content-Length), file $_len"
    elif ! cmp -s "$T/body" "$4"; then
        fail "$1" "the bytes differ ($GOT received, $_len expected)"
    else
        pass "$1"
    fi
}

# ---- files ----
printf 'hello files %s\n' "$$" >"$T/files/small.txt"
printf 'section attachment %s\n' "$$" >"$T/files/attach.txt"
: >"$T/files/empty.txt"
head -c 1048576 /dev/urandom >"$T/files/big.bin"      # 16 chunks of 64 KiB
head -c 200000 /dev/urandom >"$T/files/tricky.bin"    # 4 chunks, the last one short
head -c 80000 /dev/urandom >"$T/files/mid.bin"         # between 64 KiB and 100 KB
head -c 20971520 /dev/urandom >"$T/files/huge.bin"    # 20 MiB, 320 chunks
TRICKY_NAME='rép "x" 50%.txt'

# ---- an account: vault Demo (token scope), Other (granted, not in scope) ----
account_create "files daemon test password $$"
setup() {
    op vault create Demo >/dev/null &&
        op vault create Other >/dev/null &&
        op item create --vault Demo --category "Secure Note" --title "Small Files" "notesPlain=n" \
            "small\\.txt[file]=$T/files/small.txt" "empty\\.txt[file]=$T/files/empty.txt" \
            "Sec A.attach\\.txt[file]=$T/files/attach.txt" >/dev/null &&
        op item create --vault Demo --category "Secure Note" --title "Big File" \
            "big\\.bin[file]=$T/files/big.bin" >/dev/null &&
        op item create --vault Demo --category "Secure Note" --title "Huge File" \
            "huge\\.bin[file]=$T/files/huge.bin" >/dev/null &&
        op document create "$T/files/tricky.bin" --vault Demo --title Tricky \
            --file-name "$TRICKY_NAME" >/dev/null &&
        op item create --vault Demo --category "Secure Note" --title "Mid File" \
            "mid\\.bin[file]=$T/files/mid.bin" >/dev/null &&
        op item create --vault Demo --category "Secure Note" --title "No Files" "notesPlain=x" \
            >/dev/null &&
        op item create --vault Other --category "Secure Note" --title "Other File" \
            "o\\.txt[file]=$T/files/small.txt" >/dev/null &&
        (cd "$T/work" && op connect server create files-srv --vaults Demo,Other >/dev/null)
}
run_setup "account, vaults, items with files and a server set up with op"
vault_id() { op vault get "$1" --format json | jq -r .id; }
DEMO=$(vault_id Demo)
OTHER=$(vault_id Other)
item_json() { op item get "$1" --vault "$2" --format json; }
item_json "Small Files" Demo >"$T/small.json"
item_json "Big File" Demo >"$T/big.json"
item_json "Huge File" Demo >"$T/huge.json"
item_json Tricky Demo >"$T/tricky.json"
item_json "Mid File" Demo >"$T/mid.json"
item_json "Other File" Other >"$T/other.json"
SMALL=$(jq -r .id "$T/small.json")
BIG=$(jq -r .id "$T/big.json")
HUGE=$(jq -r .id "$T/huge.json")
TRICKY=$(jq -r .id "$T/tricky.json")
MID=$(jq -r .id "$T/mid.json")
NOFILES=$(item_json "No Files" Demo | jq -r .id)
OTHERIT=$(jq -r .id "$T/other.json")
fid() { jq -r --arg n "$2" '.files[] | select(.name == $n) | .id' "$1"; }
F_SMALL=$(fid "$T/small.json" small.txt)
F_EMPTY=$(fid "$T/small.json" empty.txt)
F_ATTACH=$(fid "$T/small.json" attach.txt)
F_BIG=$(fid "$T/big.json" big.bin)
F_HUGE=$(fid "$T/huge.json" huge.bin)
F_TRICKY=$(fid "$T/tricky.json" "$TRICKY_NAME")
F_MID=$(fid "$T/mid.json" mid.bin)
F_OTHER=$(fid "$T/other.json" o.txt)
SEC_A=$(jq -r '.files[] | select(.name == "attach.txt") | .section.id' "$T/small.json")
check "file ids are 26-char ids" sh -c "for i in $F_SMALL $F_EMPTY $F_ATTACH $F_BIG $F_HUGE \
    $F_TRICKY $F_MID $F_OTHER; do echo \$i | grep -qE '^[a-z0-9]{26}\$' || exit 1; done"
check "the section file has a section id" sh -c "[ -n '$SEC_A' ] && [ '$SEC_A' != null ]"

token() { op connect token create "$1" --server files-srv --vault "$2" 2>"$T/tok.err" | tail -n 1; }
TOK=$(token rw Demo)
TOK_R=$(token ro Demo,r)
TOK_W=$(token wo Demo,w)

# ---- the daemons: inline limit 64 KiB ----
API_ENV="OP_SYNC_TIMEOUT=8s OP_MAX_INLINE_FILE_SIZE_KB=64" start_daemons "$CREDS"
synced() { req "$TOK" "/v1/vaults/$DEMO/items/$HUGE"; [ "$CODE" = 200 ]; }
check "the items are served (initial sync done)" poll_until 15000 synced

P="/v1/vaults/$DEMO/items"

# ---- list and get ----
expect "list: a bare array of the item's three files" 200 "$TOK" "$P/$SMALL/files" \
    "type == \"array\" and length == 3 and
     ([.[].id] | sort) == ([\"$F_SMALL\",\"$F_EMPTY\",\"$F_ATTACH\"] | sort)"
check "list is application/json with the version header" sh -c \
    "grep -qi '^Content-Type: application/json' '$T/hdr' && grep -qi '^1Password-Connect-Version: ' '$T/hdr'"
check "list: exactly id, name, size, content_path (+section); no key, chunkSize, nonce, sha256" \
    jq -e 'all(.[]; (keys - ["section"]) == ["content_path","id","name","size"])' "$T/body"
check "list: content_path is absolute, the content route of each file" jq -e \
    "all(.[]; .content_path == \"/v1/vaults/$DEMO/items/$SMALL/files/\" + .id + \"/content\")" "$T/body"
check "list: names and sizes" jq -e \
    "([.[] | {name, size}] | sort_by(.name)) == [{name:\"attach.txt\",size:$(wc -c <"$T/files/attach.txt")},
      {name:\"empty.txt\",size:0},{name:\"small.txt\",size:$(wc -c <"$T/files/small.txt")}]" "$T/body"
check "list: the section file carries section.id, the others none" jq -e \
    "([.[] | select(.name == \"attach.txt\") | .section] == [{id:\"$SEC_A\"}]) and
     ([.[] | select(.name != \"attach.txt\") | has(\"section\")] == [false,false])" "$T/body"
check "no internal member anywhere in the body" sh -c \
    "! grep -q -e chunkSize -e '\"key\"' -e '\"nonce\"' -e sha256 '$T/body'"
expect "list with a trailing slash (JS SDK)" 200 "$TOK" "$P/$SMALL/files/" 'length == 3'
expect "list of an item without files: []" 200 "$TOK" "$P/$NOFILES/files" 'type == "array" and length == 0'
expect "list with a read-only token" 200 "$TOK_R" "$P/$SMALL/files" 'length == 3'
expect "get one file" 200 "$TOK" "$P/$SMALL/files/$F_SMALL" \
    ".id == \"$F_SMALL\" and .name == \"small.txt\" and (has(\"content\") | not) and
     .content_path == \"/v1/vaults/$DEMO/items/$SMALL/files/$F_SMALL/content\" and
     (keys == [\"content_path\",\"id\",\"name\",\"size\"])"
expect "get one file with a trailing slash" 200 "$TOK" "$P/$SMALL/files/$F_SMALL/" ".id == \"$F_SMALL\""
expect "get the section file" 200 "$TOK" "$P/$SMALL/files/$F_ATTACH" ".section.id == \"$SEC_A\""
expect "the full item lists the same files" 200 "$TOK" "$P/$SMALL" \
    "[.files[].content_path] | all(startswith(\"/v1/vaults/$DEMO/items/$SMALL/files/\"))"

# ---- inline ----
b64() { base64 -w0 <"$1"; }
expect "list ?inline_files=true: content is the base64 of each file" 200 "$TOK" \
    "$P/$SMALL/files?inline_files=true" \
    "length == 3 and
     ([.[] | select(.name == \"small.txt\") | .content] == [\"$(b64 "$T/files/small.txt")\"]) and
     ([.[] | select(.name == \"attach.txt\") | .content] == [\"$(b64 "$T/files/attach.txt")\"]) and
     ([.[] | select(.name == \"empty.txt\") | .content] == [\"\"])"
expect "list ?inline_content=true: the same" 200 "$TOK" "$P/$SMALL/files?inline_content=true" \
    "all(.[]; has(\"content\")) and
     ([.[] | select(.name == \"small.txt\") | .content] == [\"$(b64 "$T/files/small.txt")\"])"
expect "get ?inline_files=true" 200 "$TOK" "$P/$SMALL/files/$F_SMALL?inline_files=true" \
    ".content == \"$(b64 "$T/files/small.txt")\""
expect "get ?inline_content=1 (ParseBool)" 200 "$TOK" "$P/$SMALL/files/$F_ATTACH?inline_content=1" \
    ".content == \"$(b64 "$T/files/attach.txt")\" and .section.id == \"$SEC_A\""
expect "?inline_files=false: no content" 200 "$TOK" "$P/$SMALL/files?inline_files=false" \
    'all(.[]; has("content") | not)'
experr "413: inline of an 80000-byte file with OP_MAX_INLINE_FILE_SIZE_KB=64" 413 "$TOK" \
    "$P/$MID/files?inline_files=true" 'too large to inline'
MSG413="File is too large to inline in request. Use the /v1/vaults/$DEMO/items/$BIG/files/$F_BIG/content endpoint instead."
experr "413: list with inline over OP_MAX_INLINE_FILE_SIZE_KB" 413 "$TOK" \
    "$P/$BIG/files?inline_files=true"
check "413 message is the spec's, with the real ids" jq -e --arg m "$MSG413" '.message == $m' "$T/body"
experr "413: get with inline_content over the limit" 413 "$TOK" \
    "$P/$BIG/files/$F_BIG?inline_content=true" 'too large to inline'
check "413 on get names the file" jq -e --arg m "$MSG413" '.message == $m' "$T/body"
expect "the same file without inline: 200" 200 "$TOK" "$P/$BIG/files/$F_BIG" ".size == 1048576"

# ---- content ----
content "content: small.txt byte for byte" "$TOK" "$P/$SMALL/files/$F_SMALL/content" "$T/files/small.txt"
check "content: Content-Disposition is attachment; filename=\"small.txt\"" \
    [ "$(header Content-Disposition)" = 'attachment; filename="small.txt"' ]
check "content: 1Password-Connect-Version on the download" \
    grep -qi '^1Password-Connect-Version: [0-9]' "$T/hdr"
req "$TOK" "$P/$SMALL/files/$F_SMALL/content" -H 'X-Request-ID: download-7'
check "content: the client's X-Request-ID on the download" sh -c \
    "[ '$CODE' = 200 ] && [ '$(header X-Request-ID)' = download-7 ] && cmp -s '$T/body' '$T/files/small.txt'"
content "content: an empty file (Content-Length 0)" "$TOK" "$P/$SMALL/files/$F_EMPTY/content" \
    "$T/files/empty.txt"
content "content: 1 MiB random, 16 chunks" "$TOK" "$P/$BIG/files/$F_BIG/content" "$T/files/big.bin"
content "content: with a read-only token" "$TOK_R" "$P/$BIG/files/$F_BIG/content" "$T/files/big.bin"
content "content: 200000 bytes, last chunk short" "$TOK" "$P/$TRICKY/files/$F_TRICKY/content" \
    "$T/files/tricky.bin"
WANT_CD="attachment; filename=\"r_p _x_ 50_.txt\"; filename*=UTF-8''r%C3%A9p%20%22x%22%2050%25.txt"
if [ "$(header Content-Disposition)" = "$WANT_CD" ]; then
    pass "content: a name with quotes, %, non-ASCII: ASCII filename= and RFC 6266 filename*="
else
    fail "content: tricky Content-Disposition" "$(header Content-Disposition)"
fi
check "content: exactly one Content-Disposition line" [ "$(grep -ci '^Content-Disposition:' "$T/hdr")" = 1 ]
content "content: with a trailing slash" "$TOK" "$P/$SMALL/files/$F_SMALL/content/" "$T/files/small.txt"
# the SDKs reuse one connection: two downloads on one keep-alive connection
set +e
curl -s -H "Authorization: Bearer $TOK" -o "$T/ka1" "http://127.0.0.1:$APORT$P/$BIG/files/$F_BIG/content" \
    -o "$T/ka2" "http://127.0.0.1:$APORT$P/$SMALL/files/$F_SMALL/content" 2>/dev/null
set -e
check "two downloads on one keep-alive connection" sh -c \
    "cmp -s '$T/ka1' '$T/files/big.bin' && cmp -s '$T/ka2' '$T/files/small.txt'"

# ---- errors ----
NOID=bbbbbbbbbbbbbbbbbbbbbbbbbb
experr "404: unknown file id" 404 "$TOK" "$P/$SMALL/files/$NOID" "^file $NOID not found\$"
experr "404: unknown file id, content" 404 "$TOK" "$P/$SMALL/files/$NOID/content" "^file $NOID not found\$"
experr "404: a file of another item" 404 "$TOK" "$P/$BIG/files/$F_SMALL" "^file $F_SMALL not found\$"
experr "404: unknown item" 404 "$TOK" "$P/$NOID/files" "^item $NOID not found\$"
experr "404: unknown item, content" 404 "$TOK" "$P/$NOID/files/$F_SMALL/content" "^item $NOID not found\$"
experr "404: unknown sub-path after the file" 404 "$TOK" "$P/$SMALL/files/$F_SMALL/other"
experr "404: a path past /content" 404 "$TOK" "$P/$SMALL/files/$F_SMALL/content/x"
experr "404: /filesx" 404 "$TOK" "$P/$SMALL/filesx"
experr "400: malformed file id" 400 "$TOK" "$P/$SMALL/files/xyz" '^Invalid File UUID$'
experr "400: malformed file id, content" 400 "$TOK" "$P/$SMALL/files/$(printf %s "$F_SMALL" | tr a-z A-Z)/content" \
    '^Invalid File UUID$'
experr "400: malformed item id on the files route" 400 "$TOK" "/v1/vaults/$DEMO/items/xyz/files" \
    '^Invalid Item UUID$'
experr "401: no token, list" 401 - "$P/$SMALL/files"
experr "401: no token, content" 401 - "$P/$SMALL/files/$F_SMALL/content"
experr "403: a vault outside the token's scope" 403 "$TOK" "/v1/vaults/$OTHER/items/$OTHERIT/files" \
    'not in scope'
experr "403: content in a vault outside the scope" 403 "$TOK" \
    "/v1/vaults/$OTHER/items/$OTHERIT/files/$F_OTHER/content" 'not in scope'
experr "403: a write-only token lists no files" 403 "$TOK_W" "$P/$SMALL/files" 'permission'
experr "403: a write-only token downloads nothing" 403 "$TOK_W" "$P/$SMALL/files/$F_SMALL/content" \
    'permission'
req "$TOK" "$P/$SMALL/files/$F_SMALL/content" -X POST
check "405: POST on the content route" [ "$CODE" = 405 ]
req "$TOK" "$P/$SMALL/files" -X DELETE
check "405: DELETE on the files route" [ "$CODE" = 405 ]

# ---- memory: a 20 MiB download ----
hwm() { awk '/^VmHWM/ {print $2}' "/proc/$API_PID/status"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$API_PID/status"; }
H0=$(hwm)
R0=$(rss)
t0=$(now_ms)
content "content: 20 MiB random, 320 chunks" "$TOK" "$P/$HUGE/files/$F_HUGE/content" "$T/files/huge.bin"
t1=$(now_ms)
H1=$(hwm)
R1=$(rss)
content "content: 20 MiB again" "$TOK" "$P/$HUGE/files/$F_HUGE/content" "$T/files/huge.bin"
t2=$(now_ms)
H2=$(hwm)
R2=$(rss)
echo "   (20 MiB downloads in $((t1 - t0)) and $((t2 - t1)) ms; VmHWM ${H0} -> ${H1} -> ${H2} kB;" \
    "VmRSS ${R0} -> ${R1} -> ${R2} kB)"
# One chunk at a time: the peak may grow by SQLite's page cache (2 MB per
# handle) and a chunk or two, never by anything like the file's 20 MiB.
# (Not under ASan: its quarantine keeps every freed chunk buffer a while.)
if ldd "$API" 2>/dev/null | grep -q libasan; then
    echo "   (memory checks skipped: $API is built with ASan)"
else
    check "VmHWM grew by less than 4 MiB over the first 20 MiB download ($H0 -> $H1 kB)" \
        [ $((H1 - H0)) -lt 4096 ]
    check "VmHWM grew by less than 1 MiB over the second ($H1 -> $H2 kB)" [ $((H2 - H1)) -lt 1024 ]
fi
# a slow client: 1 MiB/s for a moment, then gone; the server stays well
set +e
curl -s --limit-rate 1M --max-time 1 -H "Authorization: Bearer $TOK" -o /dev/null \
    "http://127.0.0.1:$APORT$P/$HUGE/files/$F_HUGE/content"
set -e
content "a client that hangs up mid-download does not disturb the next one" "$TOK" \
    "$P/$SMALL/files/$F_SMALL/content" "$T/files/small.txt"
check "the hang-up is logged (ids, bytes sent), not as an error" poll_until 5000 grep -q \
    "\"(I) file $F_HUGE of item $HUGE (vault $DEMO): the client stopped reading; connection closed after" \
    "$T/api.log"

# ---- the cache holds no chunk for a file: 503 ----
CACHE="$XDG_DATA_HOME/.op/data/1password.sqlite"
sqlite3 -cmd ".timeout 10000" "$CACHE" "DELETE FROM files WHERE file_id = '$F_ATTACH'" 2>"$T/sql.err" ||
    fail "delete the chunks of a file from the cache" "$(cat "$T/sql.err")"
unsynced() { req "$TOK" "$P/$SMALL/files/$F_ATTACH/content"; [ "$CODE" = 503 ]; }
if poll_until 3000 unsynced; then
    pass "503: a file whose chunks are not cached yet"
else
    fail "503: a file whose chunks are not cached yet" "HTTP $CODE"
fi
check "503 body says the file is not synced yet" \
    jq -e "(keys == [\"message\",\"status\"]) and .status == 503 and
           (.message | test(\"$F_ATTACH is not synced yet\"))" "$T/body"
check "503 carries Retry-After" [ "$(header Retry-After)" = 1 ]
experr "503 for inline content of that file too" 503 "$TOK" "$P/$SMALL/files?inline_files=true" \
    'not synced yet'
expect "the File itself is still listed (metadata comes with the item)" 200 "$TOK" \
    "$P/$SMALL/files/$F_ATTACH" ".id == \"$F_ATTACH\""

# ---- a tampered chunk: never served ----
# Flip one byte in chunk 5 of big.bin (offset 100) and the first byte of
# small.txt's only chunk, with the sqlite3 CLI; the lengths stay the same.
flip() { # FILE-ID IDX OFFSET(1-based)
    sqlite3 -cmd ".timeout 10000" "$CACHE" "UPDATE files SET blob = CAST(substr(blob, 1, $3 - 1) ||
        CASE WHEN substr(blob, $3, 1) = x'5a' THEN x'a5' ELSE x'5a' END ||
        substr(blob, $3 + 1) AS BLOB) WHERE file_id = '$1' AND idx = $2"
}
len_of() { sqlite3 -cmd ".timeout 10000" "$CACHE" "SELECT length(blob) FROM files WHERE file_id = '$1' AND idx = $2"; }
L0=$(len_of "$F_BIG" 5)
flip "$F_BIG" 5 101 2>"$T/sql.err" && flip "$F_SMALL" 0 1 2>>"$T/sql.err" ||
    fail "tamper with two chunks in the cache" "$(cat "$T/sql.err")"
check "the tampered chunk kept its length ($L0)" [ "$(len_of "$F_BIG" 5)" = "$L0" ]
tampered() { req "$TOK" "$P/$BIG/files/$F_BIG/content"; [ "$CODE" != 200 ] || ! cmp -s "$T/body" "$T/files/big.bin"; }
poll_until 3000 tampered || true
if [ "$CODE" = 500 ] && jq -e '.status == 500 and .message == "Something went wrong"' "$T/body" >/dev/null 2>&1; then
    pass "tampered chunk 5 of 16: 500 before any byte of the file"
else
    fail "tampered chunk 5 of 16: 500 before any byte of the file" "HTTP $CODE, $GOT bytes"
fi
check "tampered: no octet-stream, no Content-Disposition" sh -c \
    "! grep -qi -e '^Content-Type: application/octet-stream' -e '^Content-Disposition' '$T/hdr'"
if python3 - "$T/body" "$T/files/big.bin" <<'EOF'
import sys
body = open(sys.argv[1], "rb").read()
data = open(sys.argv[2], "rb").read()
sys.exit(1 if any(data[i:i + 16] in body for i in range(0, len(data) - 16, 997)) else 0)
EOF
then
    pass "tampered: no 16-byte run of the file's content in the answer"
else
    fail "tampered: no 16-byte run of the file's content in the answer"
fi
check "tampered: the error is logged with the file id" \
    poll_until 2000 grep -q "\"(E) item $BIG of vault $DEMO: file $F_BIG: content hash does not match" "$T/api.log"
experr "tampered chunk 0 of a one-chunk file: 500" 500 "$TOK" "$P/$SMALL/files/$F_SMALL/content"
experr "tampered: inline content refused as well (500)" 500 "$TOK" \
    "$P/$SMALL/files/$F_SMALL?inline_files=true"
content "an intact file of the same item is still served" "$TOK" "$P/$SMALL/files/$F_EMPTY/content" \
    "$T/files/empty.txt"

# ---- logs ----
SMALL_TEXT=$(cat "$T/files/small.txt")
check "no token, file content or base64 of it in the logs" sh -c \
    "! grep -F -q -e '${TOK##*.}' -e '$SMALL_TEXT' -e '$(b64 "$T/files/small.txt")' '$T/api.log' '$T/api.err'"

# ---- OP_MAX_INLINE_FILE_SIZE_KB (empty counts as unset, as for every variable) ----
for bad in abc -1 65537 1.5 ' 7'; do
    set +e
    OP_SESSION="$CREDS" OP_HTTP_PORT=0 OP_MAX_INLINE_FILE_SIZE_KB="$bad" timeout 5 "$API" \
        >"$T/bad.out" 2>"$T/bad.err" </dev/null
    rc=$?
    set -e
    if [ "$rc" = 1 ] && [ "$(wc -l <"$T/bad.err")" = 1 ] && grep -q '^connect-api: OP_MAX_INLINE_FILE_SIZE_KB: ' "$T/bad.err"; then
        pass "OP_MAX_INLINE_FILE_SIZE_KB='$bad': one line naming the variable, exit 1"
    else
        fail "OP_MAX_INLINE_FILE_SIZE_KB='$bad': one line naming the variable, exit 1" \
            "rc $rc: $(cat "$T/bad.err")"
    fi
done

check "every response carried 1Password-Connect-Version ($NREQ responses, $NOVER without)" \
    [ "$NOVER" -eq 0 ]

stop_pid API_PID
check "connect-api: SIGTERM exits 0" [ "$STOP_RC" -eq 0 ]

# The default limit (100 KB): 80000 bytes inline now, 200000 bytes do not.
APORT=$(free_port)
OP_SESSION="$CREDS" OP_HTTP_PORT="$APORT" OP_BIND_ADDRESS=127.0.0.1 "$API" \
    >"$T/api2.log" 2>"$T/api2.err" </dev/null &
API_PID=$!
check "connect-api with the default inline limit answers /heartbeat" wait_http "$APORT"
expect "default limit 100 KB: 80000 bytes inline" 200 "$TOK" "$P/$MID/files?inline_files=true" \
    ".[0].content == \"$(b64 "$T/files/mid.bin")\""
experr "default limit 100 KB: 200000 bytes is 413" 413 "$TOK" "$P/$TRICKY/files?inline_files=true" \
    'too large to inline'
kill -TERM "$API_PID"
wait "$API_PID" || true
API_PID=
kill -TERM "$SYNC_PID"
wait "$SYNC_PID" || true
SYNC_PID=

echo "connect-files: $NPASS passed, $NFAIL failed"
