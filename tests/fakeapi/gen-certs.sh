#!/bin/sh
# gen-certs.sh -- make a throw-away CA, server and client certificate for fakeapi TLS tests.
# Usage: gen-certs.sh DIR
# Writes DIR/ca.crt ca.key server.crt server.key client.crt client.key (PEM, EC P-256 keys,
# valid 30 days).
# The server certificate carries SAN IP:127.0.0.1, IP:::1 and DNS:localhost; the client
# certificate has CN=sextant-test, O=system:masters and extendedKeyUsage clientAuth.
set -eu

dir=${1:?usage: gen-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

key ca.key
openssl req -x509 -new -key ca.key -days 30 -subj "/CN=fakeapi-test-ca" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt

cat > ext.cnf <<'EOF'
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,IP:::1,DNS:localhost
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
EOF

sign() { # name subject section
	key "$1.key"
	openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
		-extfile ext.cnf -extensions "$3" -out "$1.crt" 2>/dev/null
	rm -f "$1.csr"
}

sign server "/CN=fakeapi" server
sign client "/O=system:masters/CN=sextant-test" client
rm -f ext.cnf ca.srl
chmod 600 ./*.key
