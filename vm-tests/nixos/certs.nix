# A throw-away CA and a certificate for mail.example.test and
# mta-sts.example.test, made at build time for the NixOS VM tests only (the
# private key ends up in the Nix store, which is fine for a test).
{ runCommand, openssl }:
runCommand "allears-test-certs" { nativeBuildInputs = [ openssl ]; } ''
  mkdir -p $out
  cd $out
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=allears test CA" -keyout ca.key -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=mail.example.test" -keyout server.key -out server.csr
  printf '%s\n' 'subjectAltName=DNS:mail.example.test,DNS:mta-sts.example.test' \
    'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' >ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile ext -out server.pem
  # The chain as the daemons load it: leaf first.
  cat server.pem ca.pem >fullchain.pem
  rm -f server.csr ext ca.srl
''
