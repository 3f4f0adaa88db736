#!/bin/sh
# tests/cli/test_unicode.sh - passwords normalised to Unicode NFKD through
# the real `op` (docs/account.md, "Passwords"): an account made with a
# password in NFC ("é" U+00E9, the ligature "ﬁ" U+FB01, a full-width "Ｐ")
# opens with its NFD, spelt-out, ASCII and NFKD forms, by OP_PASSWORD, by
# --password-stdin and through `op signin`; a password differing in an
# accent or in case does not; `op account create` refuses a password that
# is not UTF-8 (exit 8, one line, no file, the bytes nowhere in it).
set -eu
. "$(dirname "$0")/lib.sh"
setup_env

PW_NFC=$(printf 'caf\303\251 \357\254\201ne \357\274\260w')
PW_NFD=$(printf 'cafe\314\201 \357\254\201ne \357\274\260w')
PW_FI=$(printf 'caf\303\251 fine \357\274\260w')
PW_HALF=$(printf 'caf\303\251 \357\254\201ne Pw')
PW_NFKD=$(printf 'cafe\314\201 fine Pw')
DB="$XDG_DATA_HOME/opconnect/account.db"

# ---- invalid UTF-8 at create ----
fails 8 "account create: a password that is not UTF-8 (Latin-1 e-acute) is refused" \
    env OP_PASSWORD="$(printf 'caf\351 pw')" op account create --email u@example.com
check "the refusal says why" grep -q 'not valid UTF-8' "$T/err"
check "the refusal does not quote the password" sh -c "! grep -q 'caf' '$T/err'"
check "no account file was made" [ ! -e "$DB" ]

# ---- one account, every form ----
ok "account create with the NFC password" \
    env OP_PASSWORD="$PW_NFC" op account create --email u@example.com --format json
need "account create"
ok "vault create" env OP_PASSWORD="$PW_NFC" op vault create Unicode
for form in NFC NFD FI HALF NFKD; do
    eval "pw=\$PW_$form"
    ok "vault list with the $form form (OP_PASSWORD)" env OP_PASSWORD="$pw" op vault list --format json
    jqok "vault list with the $form form: the vault is there" 'map(.name) == ["Unicode"]'
done
printf '%s\n' "$PW_NFD" >"$T/pw"
IN="$T/pw" ok "vault list with the NFD form (--password-stdin)" op vault list --password-stdin
rm -f "$T/pw"
ok "signin with the NFKD form" env OP_PASSWORD="$PW_NFKD" op signin --raw
TOKEN=$(cat "$T/out")
ok "vault list on that session" op vault list --session "$TOKEN" --format json
jqok "the session opens the same account" 'map(.name) == ["Unicode"]'
fails 3 "an accent dropped is another password" env OP_PASSWORD='cafe fine Pw' op vault list
check "wrong password says so" grep -q 'wrong password' "$T/err"
fails 3 "an accent changed is another password" \
    env OP_PASSWORD="$(printf 'caf\303\250 fine Pw')" op vault list
fails 3 "case is not folded" env OP_PASSWORD="$(printf 'caf\303\251 fine pw')" op vault list
fails 3 "the Latin-1 bytes of the password are another password" \
    env OP_PASSWORD="$(printf 'caf\351 fine Pw')" op vault list
