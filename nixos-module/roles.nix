# The roles the NixOS module knows, and what their unit files in units/ hold.
# Plain data (no arguments), so the module and the drift test
# (vm-tests/nixos/eval-module.sh) read the same table; the drift test fails
# when this table and units/ disagree.
#
#   channel      the role serves a channel socket /run/allears/<role>.sock
#                with the static group allears-<role> (sysusers.d/allears.conf)
#   tcp          the TCP port its socket unit listens on (ListenStream=), or null
#   optional     the role can be switched off (services.allears.<role>.enable)
#   credentials  what the service loads, in the order of its unit file:
#                  id      the credential name (LoadCredential*=<id>:...)
#                  file    the file name in the credentials directory; a secret
#                          one gets ".cred" when encrypted (LoadCredentialEncrypted=)
#                  secret  false for public data (a certificate chain, the page),
#                          always loaded in plain with LoadCredential=
#                  kind    "keys", "tls.key", "tls.crt" or "page": what the
#                          module's options replace it with
let
  keys = role: {
    id = "keys";
    file = "${role}.keys";
    secret = true;
    kind = "keys";
  };
  tls = role: [
    {
      id = "tls.key";
      file = "${role}.tls.key";
      secret = true;
      kind = "tls.key";
    }
    {
      id = "tls.crt";
      file = "${role}.tls.crt";
      secret = false;
      kind = "tls.crt";
    }
  ];
in
{
  account = {
    channel = true;
    tcp = null;
    optional = false;
    credentials = [ (keys "account") ];
  };
  storage = {
    channel = true;
    tcp = null;
    optional = false;
    credentials = [ (keys "storage") ];
  };
  deliver = {
    channel = true;
    tcp = null;
    optional = false;
    credentials = [ (keys "deliver") ];
  };
  enquiry = {
    channel = true;
    tcp = null;
    optional = false;
    credentials = [ (keys "enquiry") ];
  };
  mta = {
    channel = false;
    tcp = 25;
    optional = false;
    credentials = [ (keys "mta") ] ++ tls "mta";
  };
  api = {
    channel = false;
    tcp = 302;
    optional = false;
    credentials = [ (keys "api") ] ++ tls "api";
  };
  web = {
    channel = false;
    tcp = 443;
    optional = true;
    credentials = [
      {
        id = "web";
        file = "web.page";
        secret = false;
        kind = "page";
      }
    ] ++ tls "web";
  };
}
