# tests/lib/certs.sh - test certificates made with openssl (sourced, not a
# test itself): by networld.sh for op-account-server's HTTPS and by the
# PostgreSQL TLS test for the database's.

# net_ca DIR CN: a test CA, DIR/ca.pem (certificate) and DIR/ca.key.
net_ca() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$2" -keyout "$1/ca.key" -out "$1/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 &&
        [ -s "$1/ca.pem" ]
}

# net_cert CA_DIR DIR: DIR/cert.pem and DIR/key.pem, a P-256 server
# certificate for IP 127.0.0.1 signed by the CA in CA_DIR.
net_cert() {
    mkdir -p "$2"
    printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
        "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$2/ext.cnf"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
        -keyout "$2/key.pem" -out "$2/csr.pem" >/dev/null 2>&1 &&
        openssl x509 -req -in "$2/csr.pem" -CA "$1/ca.pem" -CAkey "$1/ca.key" \
            -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$2/ext.cnf" \
            -out "$2/cert.pem" >/dev/null 2>&1 &&
        [ -s "$2/cert.pem" ] && [ -s "$2/key.pem" ]
}
