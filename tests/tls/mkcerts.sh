#!/bin/sh
# tests/tls/mkcerts.sh DIR - make the TLS tests' certificates in DIR with
# the openssl command (OpenSSL 3.0 has no `x509 -not_before`, so the
# expired certificate is signed with `openssl ca -startdate -enddate`).
#
#   ca.crt ca.key           the test CA (EC P-256)
#   server.crt server.key   RSA-2048, CN=localhost, SAN DNS:localhost,
#                           IP:127.0.0.1, IP:::1, signed by the CA
#   server-ec.crt .key      the same names, ECDSA P-256
#   wrong.crt               DNS:wrong.example only (server.key)
#   expired.crt             localhost/127.0.0.1, valid 2020-01-01..02
#                           (server.key)
#   rogue-ca.crt, rogue.crt a CA nobody trusts, and a localhost/127.0.0.1
#                           certificate it signed (server.key)
#   client.crt client.key   a client certificate (EC P-256) for mTLS
#   chain.pem               server.crt then ca.crt
# Exit status 77 (skip) when openssl is missing, 1 on any failure.
set -eu
dir=$1
command -v openssl >/dev/null 2>&1 || exit 77
cd "$dir"
ossl() { openssl "$@" 2>>openssl.log; }

cat > ext.cnf <<'CNF'
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[wrong_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF

ossl ecparam -name prime256v1 -genkey -noout -out ca.key
ossl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=coil test CA" \
	-config ext.cnf -extensions ca_ext -out ca.crt
ossl ecparam -name prime256v1 -genkey -noout -out rogue-ca.key
ossl req -x509 -new -key rogue-ca.key -sha256 -days 30 \
	-subj "/CN=rogue CA" -config ext.cnf -extensions ca_ext -out rogue-ca.crt

ossl genrsa -out server.key 2048
ossl ecparam -name prime256v1 -genkey -noout -out server-ec.key
ossl ecparam -name prime256v1 -genkey -noout -out client.key

sign() { # key subject ext out [ca-prefix]
	ca=${5:-ca}
	ossl req -new -key "$1" -subj "$2" -out "$4.csr"
	ossl x509 -req -in "$4.csr" -CA "$ca.crt" -CAkey "$ca.key" \
		-CAcreateserial -sha256 -days 30 -extfile ext.cnf \
		-extensions "$3" -out "$4"
	rm -f "$4.csr"
}
sign server.key /CN=localhost server_ext server.crt
sign server-ec.key /CN=localhost server_ext server-ec.crt
sign server.key /CN=wrong.example wrong_ext wrong.crt
sign server.key /CN=localhost server_ext rogue.crt rogue-ca
sign client.key "/CN=coil test client" client_ext client.crt
cat server.crt ca.crt > chain.pem

# expired: `openssl ca` takes explicit dates
mkdir -p ca.db
: > ca.db/index.txt
echo 1000 > ca.db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test
[test]
dir = $dir/ca.db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
CNF
ossl req -new -key server.key -subj /CN=localhost -out expired.csr
ossl ca -batch -config ca.cnf -notext -startdate 20200101000000Z \
	-enddate 20200102000000Z -extfile ext.cnf -extensions server_ext \
	-in expired.csr -out expired.crt
rm -rf expired.csr ca.db ca.cnf ext.cnf ca.srl rogue-ca.srl
test -s expired.crt
