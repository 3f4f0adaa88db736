#!/bin/sh
# tests/cli/test_session.sh - a full owner session through the real `op`:
# account, two vaults, items of six categories (generated password,
# sections, URL, tags, OTP, file attachment), a document, edits with
# version checks, a Connect server, tokens r/w/rw with expiry (claims
# decoded and T checked against the credentials file), list, revoke,
# delete; then a canary scan of everything the session left on disk.
set -eu
. "$(dirname "$0")/lib.sh"
setup_env

PW='canary-Passw0rd-kq83-zzv1'
U=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
TITLE_LOGIN="canary-login-title-$U"
TITLE_LOGIN2="canary-login-renamed-$U"
TITLE_PW="canary-password-title-$U"
TITLE_API="canary-api-title-$U"
TITLE_SRV="canary-server-title-$U"
TITLE_DB="canary-database-title-$U"
TITLE_NOTE="canary-note-title-$U"
TITLE_DOC="canary-document-title-$U"
USER1="canary-user-one-$U"
USER2="canary-user-two-$U"
USER_STALE="canary-user-stale-$U"
PASS2="canary-pass-item-$U"
CRED="canary-api-credential-$U"
APIHOST="canary-api-host-$U.example.net"
SRVPASS="canary-server-pass-$U"
ADMINURL="https://canary-admin-$U.example.org/console"
DBHOST="canary-db1-host-$U"
DBPASS="canary-db-pass-$U"
NOTE="canary-note-body-$U"
OTPURI='otpauth://totp/x?secret=JBSWY3DPEHPK3PXP'
URL1="https://canary-login-$U.example.com/signin"
TAG1="canarytag-alpha-$U"
TAG2="canarytag-beta-$U"
for v in TITLE_LOGIN TITLE_LOGIN2 TITLE_PW TITLE_API TITLE_SRV TITLE_DB TITLE_NOTE TITLE_DOC \
    USER1 USER2 USER_STALE PASS2 CRED APIHOST SRVPASS ADMINURL DBHOST DBPASS NOTE URL1 TAG1 TAG2; do
    eval "canary $v \"\$$v\""
done
canary password "$PW"
canary otp-uri "$OTPURI"
canary otp-secret JBSWY3DPEHPK3PXP

# ---- account ----
printf '%s\n' "$PW" >"$T/pw"
IN="$T/pw" ok "account create --password-stdin" \
    op account create --email owner@example.com --password-stdin --format json
need "account create"
rm -f "$T/pw"
jqok "account create: Secret Key in the A3- shape" '.secretKey | test("^A3-[A-Z0-9]{6}(-[A-Z0-9]{5,6}){4,}$")'
jqok "account create: id and email" '(.id | length) > 0 and .email == "owner@example.com"'
SK=$(jget .secretKey)
AID=$(jget .id)
SKFILE=$(jget .secretKeyFile)
canary secret-key "$SK"
check "Secret Key saved in \$XDG_CONFIG_HOME/opconnect/secret-key-<id>" \
    [ "$SKFILE" = "$XDG_CONFIG_HOME/opconnect/secret-key-$AID" ]
check "Secret Key file holds only the key" [ "$(cat "$SKFILE")" = "$SK" ]
check "Secret Key file mode 0600" [ "$(mode "$SKFILE")" = 600 ]
DB="$XDG_DATA_HOME/opconnect/account.db"
check "account.db at the XDG default, mode 0600" [ "$(mode "$DB")" = 600 ]
# Hold a connection open for the whole session, so that the WAL file is
# never deleted on close and its bytes can be scanned at the end.
HOLD=0
if command -v sqlite3 >/dev/null 2>&1; then
    mkfifo "$T/hold"
    sqlite3 "$DB" <"$T/hold" >/dev/null 2>&1 &
    exec 9>"$T/hold"
    echo "SELECT count(*) FROM sqlite_master;" >&9
    HOLD=1
fi
fails 6 "account create refuses an existing file" \
    env OP_PASSWORD=x op account create --email other@example.com
ok "account get" op account get --format json
jqok "account get: id, email, path" --arg id "$AID" --arg db "$DB" \
    '.id == $id and .email == "owner@example.com" and .path == $db'
ok "account get (human)" op account get
check "account get (human) shows the email" grep -q 'owner@example.com' "$T/out"

# ---- signin (once per scenario: the KDF runs here only) ----
ok "signin" env OP_PASSWORD="$PW" op signin
need "signin"
check "signin prints an eval-able export line" \
    grep -Eq '^export OP_SESSION_TOKEN="[A-Za-z0-9_-]{20,}"$' "$T/out"
eval "$(grep '^export' "$T/out")"
canary session-token "$OP_SESSION_TOKEN"
# A session file exists (no file at all would pass the mode test too), and none is not 0600.
check "the session file is private" sh -c \
    '[ "$(find "$1" -type f | wc -l)" -ge 1 ] && [ "$(find "$1" -type f ! -perm 600 | wc -l)" -eq 0 ]' \
    _ "$XDG_RUNTIME_DIR/opconnect"

# ---- vaults ----
ok "vault create Prod" op vault create Prod --description "production secrets" --format json
need "vault create"
jqok "vault create: Connect vault object" \
    '.name == "Prod" and .description == "production secrets" and (.id | test("^[a-z2-7]{26}$")) and .type == "USER_CREATED"'
VP=$(jget .id)
ok "vault create Dev" op vault create Dev --format json
VD=$(jget .id)
ok "vault list" op vault list --format json
jqok "vault list: both, ordered by name" '[.[].name] == ["Dev","Prod"]'
ok "vault list (human)" op vault list
check "vault list (human) shows both ids" grep -q "$VP" "$T/out"
ok "vault get by name" op vault get Prod --format json
jqok "vault get: same id" --arg id "$VP" '.id == $id'
ok "vault edit" op vault edit Dev --description "development" --format json
jqok "vault edit: description changed, name kept" '.name == "Dev" and .description == "development"'

# ---- items of six categories ----
ok "item create LOGIN with a generated password, URL and tags" \
    op item create --category login --title "$TITLE_LOGIN" --vault Prod --url "$URL1" \
    --tags "$TAG1,$TAG2" --generate-password=letters,digits,20 "username=$USER1" --format json
need "item create LOGIN"
jqok "LOGIN: category, title, version 1" --arg t "$TITLE_LOGIN" \
    '.category == "LOGIN" and .title == $t and .version == 1'
jqok "LOGIN: URL and tags" --arg u "$URL1" --arg a "$TAG1" --arg b "$TAG2" \
    '.urls[0].href == $u and (.tags | sort) == ([$a, $b] | sort)'
jqok "LOGIN: one password field, 20 letters/digits, entropy set" \
    '[.fields[] | select(.purpose == "PASSWORD")] | length == 1 and (.[0].value | test("^[A-Za-z0-9]{20}$")) and .[0].type == "CONCEALED" and .[0].entropy > 0'
jqok "LOGIN: username filled, not duplicated" --arg u "$USER1" \
    '[.fields[] | select(.label == "username")] | length == 1 and .[0].value == $u and .[0].purpose == "USERNAME"'
GENPW=$(jget '.fields[] | select(.purpose == "PASSWORD") | .value')
LOGIN_ID=$(jget .id)
canary generated-password "$GENPW"

ok "item create PASSWORD" op item create --category password --title "$TITLE_PW" --vault Prod \
    "password=$PASS2" --format json
jqok "PASSWORD: the value in the password field" --arg p "$PASS2" \
    '.category == "PASSWORD" and ([.fields[] | select(.purpose == "PASSWORD")] | length == 1 and .[0].value == $p)'

ok "item create API_CREDENTIAL (\"API Credential\")" \
    op item create --category "API Credential" --title "$TITLE_API" --vault Dev \
    "credential[concealed]=$CRED" "hostname[text]=$APIHOST" --format json
jqok "API_CREDENTIAL: credential concealed, hostname text, no duplicates" \
    --arg c "$CRED" --arg h "$APIHOST" \
    '.category == "API_CREDENTIAL" and ([.fields[] | select(.label == "credential")] | length == 1 and .[0].value == $c and .[0].type == "CONCEALED") and ([.fields[] | select(.label == "hostname")] | length == 1 and .[0].value == $h)'

ok "item create SERVER with a section, a URL field and a date" \
    op item create --category server --title "$TITLE_SRV" --vault Prod \
    "Admin Console.admin_url[url]=$ADMINURL" "password=$SRVPASS" "installed[date]=2024-05-01" \
    --format json
jqok "SERVER: section 'Admin Console' holds the URL field" --arg u "$ADMINURL" \
    '.category == "SERVER" and (.sections[] | select(.label == "Admin Console") | .id) as $s | [.fields[] | select(.section.id == $s and .label == "admin_url")] | length == 1 and .[0].type == "URL" and .[0].value == $u'
jqok "SERVER: DATE field" '[.fields[] | select(.label == "installed")][0] | .type == "DATE" and .value == "2024-05-01"'

ok "item create DATABASE with 'Section A.host[text]=...'" \
    op item create --category database --title "$TITLE_DB" --vault Prod \
    "Section A.host[text]=$DBHOST" "Section A.port[text]=5432" \
    "Section A.expires[monthYear]=2026/07" "password=$DBPASS" --format json
jqok "DATABASE: host and port in section 'Section A'" --arg h "$DBHOST" \
    '(.sections[] | select(.label == "Section A") | .id) as $s | ([.fields[] | select(.section.id == $s)] | map(.label) | sort) == ["expires","host","port"] and ([.fields[] | select(.label == "host")][0].value == $h)'
jqok "DATABASE: MONTH_YEAR stored as YYYYMM" \
    '[.fields[] | select(.label == "expires")][0] | .type == "MONTH_YEAR" and .value == "202607"'

printf 'canary-attachment-content-%s\n' "$U" >"$T/attach.txt"
canary attachment "canary-attachment-content-$U"
ok "item create SECURE_NOTE with an OTP field and a file attachment" \
    op item create --category "Secure Note" --title "$TITLE_NOTE" --vault Dev \
    "notesPlain=$NOTE" "otp[otp]=$OTPURI" "doc[file]=$T/attach.txt" --format json
need "item create SECURE_NOTE"
jqok "SECURE_NOTE: category, notes" --arg n "$NOTE" \
    '.category == "SECURE_NOTE" and ([.fields[] | select(.id == "notesPlain" or .purpose == "NOTES")] | length == 1 and .[0].value == $n)'
jqok "SECURE_NOTE: file attached (name, size, content path)" --argjson n "$(wc -c <"$T/attach.txt")" \
    '.files | length == 1 and .[0].name == "doc" and .[0].size == $n and (.[0].content_path | startswith("/v1/vaults/"))'
ok "item get --format json shows a 6-digit totp" op item get "$TITLE_NOTE" --vault Dev --format json
jqok "OTP field: type OTP with a 6-digit totp" \
    '[.fields[] | select(.type == "OTP")] | length == 1 and (.[0].totp | test("^[0-9]{6}$"))'
ok "item get --otp" op item get "$TITLE_NOTE" --vault Dev --otp
check "item get --otp prints 6 digits" grep -Eq '^[0-9]{6}$' "$T/out"
ok "the attachment reads back (document get --file-name)" \
    op document get "$TITLE_NOTE" --vault Dev --file-name doc --out-file "$T/attach.out"
check "attachment bytes equal" cmp -s "$T/attach.txt" "$T/attach.out"

# ---- item get: concealment, --fields, --reveal ----
ok "item get (human)" op item get "$TITLE_LOGIN" --vault Prod
check "human output conceals the password" sh -c '! grep -qF -- "$1" "$2"' _ "$GENPW" "$T/out"
check "human output shows the username, title and URL" \
    sh -c 'grep -qF -- "$1" "$4" && grep -qF -- "$2" "$4" && grep -qF -- "$3" "$4"' _ "$USER1" "$TITLE_LOGIN" "$URL1" "$T/out"
ok "item get --reveal" op item get "$TITLE_LOGIN" --vault Prod --reveal
check "--reveal shows the password" grep -qF -- "$GENPW" "$T/out"
ok "item get --fields username,password --reveal" \
    op item get "$LOGIN_ID" --vault Prod --fields username,password --reveal
check "--fields prints the values comma-separated" [ "$(cat "$T/out")" = "$USER1,$GENPW" ]
ok "item get --fields password (concealed)" op item get "$LOGIN_ID" --fields password
check "--fields without --reveal conceals" sh -c '! grep -qF -- "$1" "$2"' _ "$GENPW" "$T/out"
ok "item get --fields password --format json" op item get "$LOGIN_ID" --vault Prod --fields password --format json
jqok "--fields JSON: the field object with its value" --arg p "$GENPW" '.value == $p and .type == "CONCEALED"'

# ---- a document ----
head -c 150000 /dev/urandom >"$T/doc.bin"
printf 'canary-document-body-%s' "$U" >>"$T/doc.bin"
canary document-body "canary-document-body-$U"
ok "document create" op document create "$T/doc.bin" --vault Prod --title "$TITLE_DOC" --format json
need "document create"
jqok "document: DOCUMENT with one file of the right size and name" --argjson n "$(wc -c <"$T/doc.bin")" \
    '.category == "DOCUMENT" and (.files | length == 1 and .[0].size == $n and .[0].name == "doc.bin")'
ok "document get --out-file" op document get "$TITLE_DOC" --vault Prod --out-file "$T/doc.out"
check "document bytes equal (cmp)" cmp -s "$T/doc.bin" "$T/doc.out"
check "document --out-file mode 0600" [ "$(mode "$T/doc.out")" = 600 ]
ok "document get to stdout" op document get "$TITLE_DOC" --vault Prod
check "document bytes on stdout equal" cmp -s "$T/doc.bin" "$T/out"
fails 6 "document get refuses to overwrite without --force" \
    op document get "$TITLE_DOC" --vault Prod --out-file "$T/doc.out"
ok "document get --force overwrites" op document get "$TITLE_DOC" --vault Prod --out-file "$T/doc.out" --force

# ---- lists ----
ok "item list --vault Prod" op item list --vault Prod --format json
jqok "item list: five items in Prod, no fields in summaries" \
    'length == 5 and all(.[]; has("fields") | not) and ([.[].category] | sort) == ["DATABASE","DOCUMENT","LOGIN","PASSWORD","SERVER"]'
ok "item list --categories over all vaults" op item list --categories "login,Secure Note" --format json
jqok "--categories: LOGIN and SECURE_NOTE" '([.[].category] | sort) == ["LOGIN","SECURE_NOTE"]'
ok "item list --tags" op item list --vault Prod --tags "$TAG2" --format json
jqok "--tags: only the login" --arg id "$LOGIN_ID" 'length == 1 and .[0].id == $id'
ok "item list (human)" op item list
check "item list (human) shows a title" grep -qF -- "$TITLE_API" "$T/out"

# ---- edits with version checks ----
ok "item edit: title and username (version read = 1)" \
    op item edit "$TITLE_LOGIN" --vault Prod --title "$TITLE_LOGIN2" "username=$USER2" --format json
jqok "edit: version 2, new title and username, password kept" \
    --arg t "$TITLE_LOGIN2" --arg u "$USER2" --arg p "$GENPW" \
    '.version == 2 and .title == $t and ([.fields[] | select(.label == "username")][0].value == $u) and ([.fields[] | select(.purpose == "PASSWORD")][0].value == $p)'
ok "item get before the stale edit" op item get "$LOGIN_ID" --vault Prod --format json
before=$(jq -S . "$T/out" | sha256sum)
fails 5 "item edit with a stale --version is a conflict" \
    op item edit "$LOGIN_ID" --vault Prod --version 1 "username=$USER_STALE"
ok "item get after the stale edit" op item get "$LOGIN_ID" --vault Prod --format json
check "the stale edit changed nothing (item JSON identical)" [ "$(jq -S . "$T/out" | sha256sum)" = "$before" ]
ok "item edit with the current --version 2" \
    op item edit "$LOGIN_ID" --vault Prod --version 2 --url "https://canary-login-$U.example.com/v2" --format json
jqok "edit: version 3, URL replaced (still one)" --arg u "https://canary-login-$U.example.com/v2" \
    '.version == 3 and (.urls | length == 1 and .[0].href == $u)'
ok "item edit --generate-password=digits,12" \
    op item edit "$LOGIN_ID" --vault Prod --generate-password=digits,12 --format json
jqok "edit: a new 12-digit password" --arg old "$GENPW" \
    '.version == 4 and ([.fields[] | select(.purpose == "PASSWORD")] | length == 1 and (.[0].value | test("^[0-9]{12}$")) and .[0].value != $old)'
canary generated-password-2 "$(jget '.fields[] | select(.purpose == "PASSWORD") | .value')"
ok "item edit: field[delete] in a section" \
    op item edit "$TITLE_DB" --vault Prod "Section A.port[delete]" --format json
jqok "edit: the section's port removed, host kept" \
    '(.sections[] | select(.label == "Section A") | .id) as $s | ([.fields[] | select(.section.id == $s) | .label] | sort) == ["expires","host"]'
printf 'canary-attachment-two-%s\n' "$U" >"$T/attach2.txt"
canary attachment-2 "canary-attachment-two-$U"
ok "item edit: attach a file in a section" \
    op item edit "$TITLE_SRV" --vault Prod "Admin Console.runbook[file]=$T/attach2.txt" --format json
jqok "edit: the SERVER item has the file, in its section" \
    '(.sections[] | select(.label == "Admin Console") | .id) as $s | .files | length == 1 and .[0].name == "runbook" and .[0].section.id == $s'
ok "item delete" op item delete "$TITLE_PW" --vault Prod
fails 4 "the deleted item is gone" op item get "$TITLE_PW" --vault Prod

# ---- Connect server, tokens ----
mkdir -p "$T/work/a" "$T/work/b"
cd "$T/work/a"
ok "connect server create on one vault" op connect server create canary-srv --vaults Prod --format json
need "connect server create"
SID=$(jget .id)
jqok "server: name, one vault, credentials path" --arg p "$T/work/a/1password-credentials.json" \
    '.name == "canary-srv" and (.vaults | length == 1) and .credentialsFile == $p'
check "1password-credentials.json mode 0600" [ "$(mode 1password-credentials.json)" = 600 ]
check "credentials file: version 2 layout" \
    jq -e '.version == "2" and has("verifier") and has("encCredentials") and has("uniqueKey") and has("deviceUuid")' \
    1password-credentials.json
cp 1password-credentials.json "$T/creds-a.json"
ok "server list before the refused create" op connect server list --format json
servers_before=$(jq -S . "$T/out")
fails 6 "server create refuses to overwrite the credentials file" \
    op connect server create other-srv --vaults Dev
check "the refused create left the credentials file alone" cmp -s 1password-credentials.json "$T/creds-a.json"
ok "server list after the refused create" op connect server list --format json
check "the refused create made no server" [ "$(jq -S . "$T/out")" = "$servers_before" ]
ok "server create -f overwrites" op connect server create srv-b --vaults Dev -f
check "human server create names the credentials file" grep -q 'Credentials' "$T/out"
check "the file now belongs to the new server" sh -c '! cmp -s 1password-credentials.json "$1"' _ "$T/creds-a.json"
cp 1password-credentials.json "$T/creds-b.json"
cd "$T"
ok "server list" op connect server list --format json
jqok "server list: both servers" '([.[].name] | sort) == ["canary-srv","srv-b"]'
ok "server get" op connect server get canary-srv --format json
jqok "server get: id and vault" --arg id "$SID" --arg v "$VP" '.id == $id and ([.vaults[] | (.id? // .)] == [$v])'
ok "server edit --name" op connect server edit srv-b --name srv-b2 --format json
jqok "server renamed" '.name == "srv-b2"'

ok "token create r (--vault V,r, --expires-in 30d)" \
    op connect token create tok-r --server canary-srv --vault Prod,r --expires-in 30d
TOK_R=$(cat "$T/out")
check "token create prints exactly one line, a JWT" \
    sh -c '[ "$(wc -l <"$1")" -eq 1 ] && grep -Eq "^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$" "$1"' _ "$T/out"
ok "token create w (seed form --vaults V,w)" \
    op connect token create tok-w --server canary-srv --vaults Prod,w --expires-in 12h
TOK_W=$(cat "$T/out")
ok "token create rw (--vault V,rw, --expires-in 2w)" \
    op connect token create tok-rw --server "$SID" --vault "$VP,rw" --expires-in 2w
TOK_RW=$(cat "$T/out")
ok "token create on the other server" op connect token create tok-b --server srv-b2 --vault Dev,r
TOK_B=$(cat "$T/out")
canary token-r "$TOK_R"
canary token-w "$TOK_W"
canary token-rw "$TOK_RW"
canary token-b "$TOK_B"

# Decode a token: header and claims (ARCHITECTURE §2).
claims() {
    b64url_decode "$(printf '%s' "$1" | cut -d. -f2)"
}
header() {
    b64url_decode "$(printf '%s' "$1" | cut -d. -f1)"
}
check_token() { # name token acl expiry_s
    header "$2" >"$T/hdr.json"
    claims "$2" >"$T/claims.json"
    check "$1: header alg ES256, typ JWT, kid" \
        jq -e '.alg == "ES256" and .typ == "JWT" and (.kid | type == "string" and length > 0)' "$T/hdr.json"
    check "$1: claims auuid, sub, aud, fts, iss, jti" \
        jq -e --arg a "$AID" --arg s "$SID" \
        '.["1password.com/auuid"] == $a and .sub == $s and .aud == ["com.1password.connect"] and .["1password.com/fts"] == ["vaultaccess"] and (.iss | type == "string" and length > 0) and (.jti | type == "string" and length > 0)' \
        "$T/claims.json"
    check "$1: 1password.com/token is 43 base64url characters" \
        jq -e '.["1password.com/token"] | test("^[A-Za-z0-9_-]{43}$")' "$T/claims.json"
    check "$1: vts grants Prod with acl $3" \
        jq -e --arg v "$VP" --argjson acl "$3" \
        '.["1password.com/vts"] | length == 1 and (.[0].u | ascii_downcase) == $v and .[0].a == $acl' \
        "$T/claims.json"
    check "$1: exp = iat + $4 s" jq -e --argjson d "$4" '.exp - .iat == $d' "$T/claims.json"
    canary "$1-T" "$(jq -r '.["1password.com/token"]' "$T/claims.json")"
}
check_token tok-r "$TOK_R" 1 2592000
check_token tok-w "$TOK_W" 2 43200
check_token tok-rw "$TOK_RW" 3 1209600
JTI_R=$(claims "$TOK_R" | jq -r .jti)

# T of the token opens the credentials file of its own server only.
claims "$TOK_R" | jq -j '.["1password.com/token"]' >"$T/t-b64"
b64url_decode "$(cat "$T/t-b64")" >"$T/t-raw"
run "$CREDCHECK" "$T/creds-a.json" "$T/t-raw"
check "T of tok-r passes the verifier and unlocks canary-srv's credentials" \
    grep -q "^server=$SID account=$AID verifier=yes unlocked=yes$" "$T/out"
run "$CREDCHECK" "$T/creds-b.json" "$T/t-raw"
check "T of tok-r does not open the other server's credentials" \
    sh -c '[ "$1" -eq 1 ] && grep -q "verifier=no unlocked=no" "$2"' _ "$RC" "$T/out"
rm -f "$T/t-raw" "$T/t-b64"

ok "token list --server" op connect token list --server canary-srv --format json
jqok "token list: three active tokens with expiry, jti as id" --arg j "$JTI_R" \
    '([.[].name] | sort) == ["tok-r","tok-rw","tok-w"] and all(.[]; .state == "active" and (.expiresAt | length) > 0) and ([.[] | select(.name == "tok-r")][0].id == $j)'
jqok "token list: access per vault" \
    '([.[] | select(.name == "tok-r")][0].vaults[0].access == "r") and ([.[] | select(.name == "tok-w")][0].vaults[0].access == "w") and ([.[] | select(.name == "tok-rw")][0].vaults[0].access == "rw")'
ok "token list (human)" op connect token list
check "token list (human) lists tok-b" grep -q 'tok-b' "$T/out"
ok "token edit --name" op connect token edit tok-w --name tok-w2 --server canary-srv --format json
jqok "token renamed" '.name == "tok-w2"'
ok "token delete (revoke) by name" op connect token delete tok-r --server canary-srv
ok "token list after revoke" op connect token list --server canary-srv --format json
jqok "revoked token listed as revoked, others active" \
    '([.[] | select(.name == "tok-r")][0].state == "revoked") and ([.[] | select(.name != "tok-r")] | all(.state == "active"))'

ok "connect vault grant" op connect vault grant --server canary-srv --vault Dev
ok "server get after grant" op connect server get canary-srv --format json
jqok "server has two vaults" '.vaults | length == 2'
ok "connect vault revoke" op connect vault revoke --server canary-srv --vault Dev
ok "server get after revoke" op connect server get canary-srv --format json
jqok "server has one vault again" '.vaults | length == 1'

ok "server delete" op connect server delete canary-srv
ok "server list after delete" op connect server list --format json
jqok "deleted server gone" '[.[].name] == ["srv-b2"]'
ok "token list after server delete" op connect token list --format json
jqok "the deleted server's tokens are all revoked; the other's not" \
    '([.[] | select(.name == "tok-rw" or .name == "tok-w2" or .name == "tok-r")] | length == 3 and all(.state == "revoked")) and ([.[] | select(.name == "tok-b")][0].state == "active")'

# ---- vault delete ----
ok "vault create scratch" op vault create Scratch
ok "vault delete" op vault delete Scratch
fails 4 "deleted vault is gone" op vault get Scratch

# ---- help and version ----
ok "op --version" op --version
check "--version names op, the library and the Connect API" grep -Eq '^op [0-9]+\.[0-9]+\.[0-9]+ \(libopconnect [0-9.]+, Connect API [0-9.]+\)$' "$T/out"
ok "op help item create" op help item create
check "help shows the usage line" grep -q '^Usage: op item create' "$T/out"
ok "op connect token create --help" op connect token create --help
check "--help shows the usage line" grep -q '^Usage: op connect token create' "$T/out"

# ---- canary scan: titles, values, passwords, Secret Key, tokens ----
printf 'x %s y\n' "$TITLE_DB" >"$T/control"
check "canary scan finds a planted value (control)" [ -n "$(scan_hits "$T/control")" ]
check "account.db exists for the scan" [ -f "$DB" ]
if [ "$HOLD" = 1 ]; then
    check "account.db-wal exists for the scan (a connection held it open)" [ -s "$DB-wal" ]
fi
for f in "$DB" "$DB-wal" "$DB-shm" "$DB-journal" "$XDG_RUNTIME_DIR"/opconnect/* \
    "$T/creds-a.json" "$T/creds-b.json" "$T/all-stderr"; do
    if [ -f "$f" ]; then
        scan_file "$f"
    fi
done

if [ "$HOLD" = 1 ]; then
    exec 9>&-
fi

# ---- signout ----
ok "signout" op signout
fails 3 "the ended session no longer unlocks" op vault list
