#!/bin/sh
# Simulated Azure network for azbprobe integration tests (needs root).
#
#   rig.sh up STATE_DIR              build everything; writes STATE_DIR/env and STATE_DIR/ca.pem
#   rig.sh down STATE_DIR            tear down (idempotent; fine after a partial up)
#   rig.sh vm STATE_DIR cmd...       run cmd in the VM namespace
#   rig.sh az STATE_DIR cmd...       run cmd in the Azure namespace
#   rig.sh nsg STATE_DIR 'RULE'      add an nft rule to the emulated NSG (chain inet azbp_nsg custom, in az)
#   rig.sh nsg-flush STATE_DIR       remove every rule added with nsg (baseline rules stay)
#   rig.sh guestfw STATE_DIR 'RULE'  add an nft rule to the guest firewall (chain inet azbp_guest output, in vm)
#   rig.sh guestfw-flush STATE_DIR   empty the guest firewall again
#   rig.sh dhcp STATE_DIR on [ADDR|none]  DHCP server (dnsmasq, DHCP only) on az0; option 245 forced to
#                                    ADDR (default 168.63.129.16), none = no option 245; restarts on change
#   rig.sh dhcp STATE_DIR off        stop it (idempotent; down stops it too)
#   rig.sh capture STATE_DIR start FILE   tcpdump -i az0 'udp port 67 or udp port 68' -> FILE (pcap),
#                                    returns once tcpdump is listening; one capture at a time
#   rig.sh capture STATE_DIR stop    stop it (idempotent; down stops it too)
#   rig.sh arm STATE_DIR MODE        fake ARM mode: ok 403 403-read 403-leak 429 500 badjson offorigin
#                                    (tests/net/fakearm.py); noidentity / identity: IMDS token on/off
#
# HTTP proxies (squid, one process, when squid is installed; see tests/net/squid.conf.in):
#   203.0.113.50:3128 and :443 open, .51:3128 basic auth (azbp / S3cretPw!), .52:3128 CONNECT allow
#   list (.example.org only: storage gets 403), .53:3128 silently dropped by the NSG baseline.
#   squid reaches storage from inside az over lo, so an NSG rule meant to cut only the VM's direct
#   path must match on iifname "az0", e.g. 'iifname "az0" ip daddr 203.0.113.10 tcp dport {443,8443} drop'.
#
# Fake ARM (tests/net/fakearm.py): https://management.azure.test on 203.0.113.60:443 (own leaf from
#   the test CA); wants "Authorization: Bearer $ARM_TOKEN", the token the fake IMDS issues at
#   /metadata/identity/oauth2/token (Metadata: true). Effective NSGs/routes: 202, 202, then 200.
#
# Topology (see tests/net/README.md for the full address plan):
#   vm namespace: vm0 198.51.100.10/24 (MAC 00:0d:3a:4b:5c:6d), default via 198.51.100.1,
#                 resolv.conf -> 198.51.100.1
#   az namespace: az0 198.51.100.1/24; Azure and "storage" addresses are /32s on lo, so the az
#                 namespace answers for all of them without forwarding. The DHCP server (off until
#                 'dhcp on') and the capture (tcpdump) run in az too and only ever see az0.
# Only 198.51.100.0/24, 203.0.113.0/24, 168.63.129.16 and 169.254.169.254 are used, and only
# inside the two namespaces: the root namespace is never touched (192.0.2.0/24 is on eth0 here).
# Every daemon runs inside the az namespace and is stopped by pid on down.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)

VM_IP=198.51.100.10
AZ_IP=198.51.100.1
WIRESERVER=168.63.129.16
IMDS=169.254.169.254
ST_GOOD=203.0.113.10      # storage that answers like Azure Storage
ST_INSPECT=203.0.113.11   # TLS inspection (cert from "Contoso TLS Inspection CA")
ST_RESET=203.0.113.12     # NSG: reject with tcp reset
ST_DROP=203.0.113.13      # NSG: silent drop
ST_ICMP=203.0.113.14      # NSG: ICMP admin-prohibited
ST_FWDENY=203.0.113.16    # Azure Firewall style HTTP 470 deny page
ST_ACCTFW=203.0.113.17    # storage account firewall: 403 AuthorizationFailure
ST_HOSTILE=203.0.113.18   # hostile.py: endless headers on 443, a slow sender on 8443
BH_FIRST=101              # 203.0.113.101-.120: twenty blackholed storage IPs
BH_LAST=120
PROXY_OPEN=203.0.113.50   # squid: open proxy on :3128 and :443
PROXY_AUTH=203.0.113.51   # squid: basic auth required (user azbp, password S3cretPw!)
PROXY_DENY=203.0.113.52   # squid: CONNECT allow list that denies storage (403)
PROXY_DROP=203.0.113.53   # squid listens, but the NSG baseline drops everything to it
ARM_IP=203.0.113.60       # fakearm.py: management.azure.test:443
ARM_HOST=management.azure.test
ARM_TOKEN='eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImF6YnAtdGVzdCJ9.FAKE-TOKEN-VALUE'
PROXY_USER=azbp
PROXY_PASSWORD='S3cretPw!'
VM_MAC=00:0d:3a:4b:5c:6d  # vm0 (the IMDS fixture's macAddress 000D3A4B5C6D)
AZ_MAC=12:34:56:78:9a:bc  # az0: the MAC Azure's gateway (and DHCP server) answers from
DHCP_FIRST=198.51.100.100 # DHCP pool offered on az0
DHCP_LAST=198.51.100.150
DHCP_LEASE=1h
DHCP_DOMAIN=internal.cloudapp.net

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

log() { printf 'rig: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- state helpers

load_env() {
    if [ ! -r "$STATE/env" ]; then
        log "no $STATE/env: is the rig up?"
        return 1
    fi
    # shellcheck disable=SC1091
    . "$STATE/env"
}

# Append NAME=VALUE to the env file (values never contain quotes).
env_add() { printf "%s='%s'\n" "$1" "$2" >> "$STATE/env"; }

# True while pid runs. A zombie counts as gone: on this kind of host pid 1 may never reap the
# daemons that up left behind, and waiting for them would stall down for seconds.
alive() {
    [ -r "/proc/$1/status" ] || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Kill one pid, but only if it still lives in one of our namespaces: a stale env file must
# never make us kill an unrelated process that reused the pid.
kill_ours() {
    pid=$1
    [ -n "$pid" ] || return 0
    alive "$pid" || return 0
    ns=$(ip netns identify "$pid" 2>/dev/null)
    case "$ns" in
        "$AZ_NS"|"$VM_NS") ;;
        *) return 0 ;;
    esac
    kill -TERM "$pid" 2>/dev/null
    i=0
    while alive "$pid" && [ $i -lt 30 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}

# ---------------------------------------------------------------- down

do_down() {
    [ -r "$STATE/env" ] || { log "down: nothing to do (no $STATE/env)"; return 0; }
    VM_NS='' AZ_NS='' NGINX_PID='' DNS_CUSTOM_PID='' DNS_AZURE_PID='' DNSFAKE_PID='' HOSTILE_PID=''
    SQUID_PID='' SQUID_NAME='' FAKEARM_PID=''
    # shellcheck disable=SC1091
    . "$STATE/env"
    # nginx daemonized: its pid file is the truth if the env was written before it.
    if [ -z "$NGINX_PID" ] && [ -r "$STATE/run/nginx.pid" ]; then
        NGINX_PID=$(cat "$STATE/run/nginx.pid")
    fi
    # squid runs in the foreground (-N), so $! is squid; its pid file is a fallback only.
    if [ -z "$SQUID_PID" ] && [ -r "$STATE/squid/squid.pid" ]; then
        SQUID_PID=$(cat "$STATE/squid/squid.pid")
    fi
    # The capture and the DHCP server (started after up, so their pids are in pid files).
    stop_capture
    stop_dhcp
    for p in $SQUID_PID $NGINX_PID $DNS_CUSTOM_PID $DNS_AZURE_PID $DNSFAKE_PID $HOSTILE_PID $FAKEARM_PID; do
        kill_ours "$p"
    done
    # Anything still inside our namespaces (nginx workers, squid's auth helpers, a stuck probe)
    # was started by us.
    for ns in "$AZ_NS" "$VM_NS"; do
        [ -n "$ns" ] || continue
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill_ours "$p"
        done
    done
    # squid removes its shared-memory segments when it exits; not when it had to be killed.
    # The name is unique to this run (azbp<pid>).
    case "$SQUID_NAME" in
        azbp[0-9]*) rm -f "/dev/shm/$SQUID_NAME-"*.shm ;;
    esac
    for ns in "$VM_NS" "$AZ_NS"; do
        [ -n "$ns" ] || continue
        if ip netns list | grep -q "^$ns\\b"; then
            ip netns del "$ns" || log "down: could not delete namespace $ns"
        fi
    done
    # The name is unique to this run (azbp-vm-<pid>), so this never removes someone else's file.
    case "$VM_NS" in
        azbp-vm-*) rm -rf "/etc/netns/$VM_NS" ;;
    esac
    rm -f "$STATE/env"
    log "down: done ($VM_NS $AZ_NS)"
    return 0
}

# ---------------------------------------------------------------- up

# On any failure during up: say what failed, undo everything, exit 1.
die() {
    log "up FAILED: $*"
    for f in dnsmasq-custom.log dnsmasq-azure.log dnsfake.log run/nginx-error.log squid/parse.out \
             squid/squid.out squid/cache.log fakearm.out; do
        if [ -s "$STATE/$f" ]; then
            log "--- last lines of $STATE/$f"
            tail -n 5 "$STATE/$f" >&2
        fi
    done
    trap - INT TERM HUP
    do_down
    exit 1
}

run() { "$@" || die "command failed: $*"; }

in_vm() { ip netns exec "$VM_NS" "$@"; }
in_az() { ip netns exec "$AZ_NS" "$@"; }

# Wait up to ~5 s for a command to succeed (daemons need a moment to bind).
wait_for() {
    what=$1; shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -ge 50 ] && die "$what is not answering: $*"
        sleep 0.1
    done
}

make_netns() {
    run ip netns add "$VM_NS"
    run ip netns add "$AZ_NS"
    # Create the veth ends directly inside the namespaces: the root namespace never sees them.
    # vm0 gets the MAC from the IMDS fixture (000D3A4B5C6D) so the probe can match its NIC.
    # az0 gets Azure's virtual gateway MAC (12:34:56:78:9a:bc), the source of every DHCP reply.
    run ip link add vm0 netns "$VM_NS" address "$VM_MAC" type veth peer name az0 netns "$AZ_NS" address "$AZ_MAC"
    run in_vm ip link set lo up
    run in_vm ip addr add "$VM_IP/24" dev vm0
    run in_vm ip link set vm0 up
    run in_vm ip route add default via "$AZ_IP"
    run in_az ip link set lo up
    run in_az ip addr add "$AZ_IP/24" dev az0
    run in_az ip link set az0 up
    for a in "$WIRESERVER" "$IMDS" "$ST_GOOD" "$ST_INSPECT" "$ST_RESET" "$ST_DROP" "$ST_ICMP" \
             "$ST_FWDENY" "$ST_ACCTFW" "$ST_HOSTILE" "$PROXY_OPEN" "$PROXY_AUTH" "$PROXY_DENY" \
             "$PROXY_DROP" "$ARM_IP"; do
        run in_az ip addr add "$a/32" dev lo
    done
    n=$BH_FIRST
    while [ $n -le $BH_LAST ]; do
        run in_az ip addr add "203.0.113.$n/32" dev lo
        n=$((n + 1))
    done
    # ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf, so the VM's
    # system resolver (curl, getaddrinfo, the probe's resolv.conf reader) sees the custom DNS.
    run mkdir -p "/etc/netns/$VM_NS"
    printf 'nameserver %s\nsearch internal.cloudapp.net\n' "$AZ_IP" > "/etc/netns/$VM_NS/resolv.conf" \
        || die "cannot write /etc/netns/$VM_NS/resolv.conf"
}

make_firewalls() {
    # NSG emulation: input hook in az (every Azure address is local there). Per-test rules go to
    # "custom", which runs first and is flushed between tests; "baseline" holds the fixed behaviour.
    cat > "$STATE/nsg.nft" <<EOF
table inet azbp_nsg {
    chain custom {
    }
    chain baseline {
        ip daddr $ST_RESET tcp dport { 443, 8443 } counter reject with tcp reset
        ip daddr $ST_DROP counter drop
        ip daddr $ST_ICMP tcp dport { 443, 8443 } counter reject with icmp type admin-prohibited
        ip daddr 203.0.113.$BH_FIRST-203.0.113.$BH_LAST counter drop
        ip daddr $PROXY_DROP counter drop
    }
    chain input {
        type filter hook input priority filter; policy accept;
        jump custom
        jump baseline
    }
}
EOF
    run in_az nft -f "$STATE/nsg.nft"
    # Guest firewall in the VM (like iptables/firewalld on a real guest): empty by default.
    cat > "$STATE/guestfw.nft" <<EOF
table inet azbp_guest {
    chain output {
        type filter hook output priority filter; policy accept;
    }
}
EOF
    run in_vm nft -f "$STATE/guestfw.nft"
}

# Root CA -> intermediate (pathlen:0) -> leaf, like Azure's public chain; plus a self-signed
# "TLS inspection" CA with its own leaf for the same names.
make_pki() {
    P=$STATE/pki
    run mkdir -p "$P"
    SANS="DNS:*.blob.core.windows.net,DNS:*.store.core.windows.net"
    cat > "$P/ext.cnf" <<EOF
[ca_int]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $SANS
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[arm_leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:$ARM_HOST
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    ossl() { openssl "$@" >>"$P/openssl.log" 2>&1 || die "openssl $1 failed (see $P/openssl.log)"; }
    serial() { echo "0x$(openssl rand -hex 8)"; }
    root_ext="-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"

    # shellcheck disable=SC2086
    ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout "$P/root.key" -out "$P/root.crt" \
        -subj "/O=azbprobe tests/CN=azbprobe Test Root CA" $root_ext
    ossl req -new -newkey rsa:2048 -nodes -keyout "$P/int.key" -out "$P/int.csr" \
        -subj "/O=azbprobe tests/CN=azbprobe Test Issuing CA 01"
    ossl x509 -req -sha256 -days 30 -in "$P/int.csr" -CA "$P/root.crt" -CAkey "$P/root.key" \
        -set_serial "$(serial)" -extfile "$P/ext.cnf" -extensions ca_int -out "$P/int.crt"
    ossl req -new -newkey rsa:2048 -nodes -keyout "$P/leaf.key" -out "$P/leaf.csr" \
        -subj "/CN=*.blob.core.windows.net"
    ossl x509 -req -sha256 -days 30 -in "$P/leaf.csr" -CA "$P/int.crt" -CAkey "$P/int.key" \
        -set_serial "$(serial)" -extfile "$P/ext.cnf" -extensions leaf -out "$P/leaf.crt"
    cat "$P/leaf.crt" "$P/int.crt" > "$P/leaf-chain.pem" || die "cannot write leaf-chain.pem"
    # The fake ARM's own leaf (management.azure.test), same chain.
    ossl req -new -newkey rsa:2048 -nodes -keyout "$P/arm-leaf.key" -out "$P/arm-leaf.csr" -subj "/CN=$ARM_HOST"
    ossl x509 -req -sha256 -days 30 -in "$P/arm-leaf.csr" -CA "$P/int.crt" -CAkey "$P/int.key" \
        -set_serial "$(serial)" -extfile "$P/ext.cnf" -extensions arm_leaf -out "$P/arm-leaf.crt"
    cat "$P/arm-leaf.crt" "$P/int.crt" > "$P/arm-chain.pem" || die "cannot write arm-chain.pem"

    # shellcheck disable=SC2086
    ossl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -keyout "$P/inspect-ca.key" \
        -out "$P/inspect-ca.crt" -subj "/O=Contoso/CN=Contoso TLS Inspection CA" $root_ext
    ossl req -new -newkey rsa:2048 -nodes -keyout "$P/inspect-leaf.key" -out "$P/inspect-leaf.csr" \
        -subj "/CN=*.blob.core.windows.net"
    ossl x509 -req -sha256 -days 30 -in "$P/inspect-leaf.csr" -CA "$P/inspect-ca.crt" \
        -CAkey "$P/inspect-ca.key" -set_serial "$(serial)" -extfile "$P/ext.cnf" -extensions leaf \
        -out "$P/inspect-leaf.crt"
    cat "$P/inspect-leaf.crt" "$P/inspect-ca.crt" > "$P/inspect-chain.pem" || die "cannot write inspect-chain.pem"

    # Sanity: the good chain verifies against ca.pem, the inspection chain must not.
    ossl verify -CAfile "$P/root.crt" -untrusted "$P/int.crt" -purpose sslserver "$P/leaf.crt"
    ossl verify -CAfile "$P/root.crt" -untrusted "$P/int.crt" -purpose sslserver "$P/arm-leaf.crt"
    run cp "$P/root.crt" "$STATE/ca.pem"
}

# Records shared by both DNS servers (dnsmasq syntax).
dns_records() {
    cat <<EOF
# Authoritative for these zones: names not listed below are NXDOMAIN, never forwarded.
local=/core.windows.net/
local=/internal.cloudapp.net/
local=/corp.example/
local=/example.org/
local=/azure.test/
# Storage account behind its CNAME, as in Azure (TTLs: CNAME 300, A 60).
cname=st1.blob.core.windows.net,blob.dub09prdstr02a.store.core.windows.net,300
host-record=blob.dub09prdstr02a.store.core.windows.net,$ST_GOOD,60
host-record=inspect.blob.core.windows.net,$ST_INSPECT,60
host-record=reject.blob.core.windows.net,$ST_RESET,60
host-record=drop.blob.core.windows.net,$ST_DROP,60
host-record=icmp.blob.core.windows.net,$ST_ICMP,60
host-record=fwdeny.blob.core.windows.net,$ST_FWDENY,60
host-record=acctfw.blob.core.windows.net,$ST_ACCTFW,60
host-record=hostile.blob.core.windows.net,$ST_HOSTILE,60
# HTTP proxies (squid) and the one name the allow-list proxy lets through.
host-record=$ARM_HOST,$ARM_IP,300
host-record=proxy.corp.example,$PROXY_OPEN,300
host-record=proxy-auth.corp.example,$PROXY_AUTH,300
host-record=proxy-deny.corp.example,$PROXY_DENY,300
host-record=proxy-drop.corp.example,$PROXY_DROP,300
host-record=allowed.example.org,$ST_GOOD,60
EOF
    n=$BH_FIRST
    while [ $n -le $BH_LAST ]; do
        printf 'host-record=bh%02d.blob.core.windows.net,203.0.113.%d,60\n' $((n - BH_FIRST + 1)) $n
        n=$((n + 1))
    done
}

dns_conf() {  # name listen-address extra-records...
    name=$1 addr=$2; shift 2
    {
        cat <<EOF
# dnsmasq as "$name" DNS server for the azbprobe rig: DNS only, no DHCP, no upstream.
port=53
listen-address=$addr
bind-interfaces
no-resolv
no-hosts
no-poll
pid-file=
user=root
log-queries
log-facility=$STATE/dnsmasq-$name.log
EOF
        dns_records
        for r in "$@"; do echo "$r"; done
    } > "$STATE/dnsmasq-$name.conf" || die "cannot write dnsmasq-$name.conf"
}

start_dns() {
    # (a) custom DNS on the gateway: does NOT know onlyazure.blob.core.windows.net.
    dns_conf custom "$AZ_IP"
    # (b) Azure DNS on 168.63.129.16: knows everything, including onlyazure.
    dns_conf azure "$WIRESERVER" "host-record=onlyazure.blob.core.windows.net,$ST_GOOD,60"
    # -k keeps dnsmasq in the foreground, and ip netns exec execs it, so $! is dnsmasq itself.
    # (Call ip directly: a shell function run with & would put a subshell pid in $!.)
    ip netns exec "$AZ_NS" dnsmasq -k --conf-file="$STATE/dnsmasq-custom.conf" </dev/null >"$STATE/dnsmasq-custom.out" 2>&1 &
    env_add DNS_CUSTOM_PID $!
    ip netns exec "$AZ_NS" dnsmasq -k --conf-file="$STATE/dnsmasq-azure.conf" </dev/null >"$STATE/dnsmasq-azure.out" 2>&1 &
    env_add DNS_AZURE_PID $!
    # (c) rcodes dnsmasq cannot produce (SERVFAIL, REFUSED, silence, CNAME loops) on :5353.
    ip netns exec "$AZ_NS" /usr/bin/python3 "$HERE/dnsfake.py" "$AZ_IP" 5353 </dev/null >"$STATE/dnsfake.log" 2>&1 &
    env_add DNSFAKE_PID $!
    wait_for "custom DNS" in_vm dig +time=1 +tries=1 +short @"$AZ_IP" st1.blob.core.windows.net
    wait_for "Azure DNS" in_vm dig +time=1 +tries=1 +short @"$WIRESERVER" onlyazure.blob.core.windows.net
    wait_for "dnsfake" sh -c "ip netns exec '$VM_NS' dig +time=1 +tries=1 -p 5353 @$AZ_IP x.nx.test | grep -q NXDOMAIN"
}

write_nginx_conf() {
    R=$STATE/run
    W=$STATE/www
    run mkdir -p "$R/tmp" "$W"
    run cp "$HERE/data/version_info.xml" "$W/version_info.xml"
    run cp "$HERE/data/imds-instance.json" "$W/imds-instance.json"
    # Managed identity token (the fields of an IMDS answer; all numbers are strings).
    printf '{"access_token":"%s","client_id":"be5947ed-3560-4afe-9504-59967a63f810","expires_in":"86399","expires_on":"1767225599","ext_expires_in":"86399","not_before":"1767139199","refresh_token":"","resource":"https://%s/","token_type":"Bearer"}\n' \
        "$ARM_TOKEN" "$ARM_HOST" > "$W/imds-token.json" || die "cannot write imds-token.json"
    # Azure Storage's answer to a request it cannot serve: 400 + request id + XML error.
    cat > "$R/storage.inc" <<'EOF'
default_type application/xml;
add_header x-ms-request-id $ms_request_id always;
add_header x-ms-version 2009-09-19 always;
add_header x-ms-error-code InvalidQueryParameterValue always;
return 400 '<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidQueryParameterValue</Code><Message>Value for one of the query parameters specified in the request URI is invalid.\nRequestId:$ms_request_id\nTime:$time_iso8601</Message><QueryParameterName>comp</QueryParameterName><QueryParameterValue /><Reason /></Error>';
EOF
    listens() {  # ip... -> listen lines for 443 and 8443
        for ip in "$@"; do
            printf '        listen %s:443 ssl;\n        listen %s:8443 ssl;\n' "$ip" "$ip"
        done
    }
    {
        cat <<EOF
# nginx for the azbprobe rig: storage endpoints, WireServer, HostGAPlugin, IMDS.
# Workers run as root because the state dir is private (0700) and holds the files they serve.
user root root;
worker_processes 1;
pid $R/nginx.pid;
error_log $R/nginx-error.log info;
events { worker_connections 512; }
http {
    access_log $R/nginx-access.log;
    client_body_temp_path $R/tmp/client_body;
    proxy_temp_path $R/tmp/proxy;
    fastcgi_temp_path $R/tmp/fastcgi;
    uwsgi_temp_path $R/tmp/uwsgi;
    scgi_temp_path $R/tmp/scgi;
    server_tokens off;
    keepalive_timeout 5s;
    types { text/xml xml; application/json json; }
    charset_types text/xml application/json;
    ssl_protocols TLSv1.2 TLSv1.3;

    # \$request_id is 32 hex digits; Azure's x-ms-request-id is a GUID.
    map \$request_id \$ms_request_id {
        "~^(?<g1>.{8})(?<g2>.{4})(?<g3>.{4})(?<g4>.{4})(?<g5>.{12})\$" "\$g1-\$g2-\$g3-\$g4-\$g5";
    }
    # IMDS wants exactly "Metadata: true".
    map \$http_metadata \$imds_ok { "true" 1; default 0; }

    # Good storage (.10) and the NSG-filtered addresses (.12-.14): same cert, so only the
    # firewall decides what the probe sees.
    server {
$(listens "$ST_GOOD" "$ST_RESET" "$ST_DROP" "$ST_ICMP")
        ssl_certificate $STATE/pki/leaf-chain.pem;
        ssl_certificate_key $STATE/pki/leaf.key;
        location / { include $R/storage.inc; }
    }
    # TLS inspection: a middlebox re-signs with its own CA, then passes the request on.
    server {
$(listens "$ST_INSPECT")
        ssl_certificate $STATE/pki/inspect-chain.pem;
        ssl_certificate_key $STATE/pki/inspect-leaf.key;
        location / { include $R/storage.inc; }
    }
    # Azure Firewall (application rules with TLS termination): deny page with status 470.
    server {
$(listens "$ST_FWDENY")
        ssl_certificate $STATE/pki/leaf-chain.pem;
        ssl_certificate_key $STATE/pki/leaf.key;
        location / {
            default_type text/plain;
            return 470 'HTTP request from \$remote_addr:\$remote_port to \$host:\$server_port. Action: Deny. Reason: No rule matched. Proceeding with default action.';
        }
    }
    # Storage account firewall (networkAcls default Deny): 403 AuthorizationFailure.
    server {
$(listens "$ST_ACCTFW")
        ssl_certificate $STATE/pki/leaf-chain.pem;
        ssl_certificate_key $STATE/pki/leaf.key;
        location / {
            default_type application/xml;
            add_header x-ms-request-id \$ms_request_id always;
            add_header x-ms-version 2009-09-19 always;
            add_header x-ms-error-code AuthorizationFailure always;
            return 403 '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationFailure</Code><Message>This request is not authorized to perform this operation.\nRequestId:\$ms_request_id\nTime:\$time_iso8601</Message></Error>';
        }
    }
    # WireServer: GET /?comp=versions -> 200 text/xml.
    server {
        listen $WIRESERVER:80;
        root $W;
        location = / {
            if (\$arg_comp = "versions") { rewrite ^ /version_info.xml last; }
            return 404;
        }
        location = /version_info.xml { internal; charset utf-8; }
        location / { return 404; }
    }
    # HostGAPlugin: GET /health -> 200 (empty body).
    server {
        listen $WIRESERVER:32526;
        root $W;
        location = /health { default_type text/plain; return 200 ''; }
        location = / {
            if (\$arg_comp = "versions") { rewrite ^ /version_info.xml last; }
            return 404;
        }
        location = /version_info.xml { internal; charset utf-8; }
        location / { return 404; }
    }
    # IMDS: 400 without "Metadata: true"; the instance document otherwise.
    server {
        listen $IMDS:80;
        root $W;
        default_type application/json;
        charset utf-8;
        location = /metadata/instance {
            if (\$http_x_forwarded_for) { return 400 '{"error":"Bad request. X-Forwarded-For header is not allowed"}'; }
            if (\$imds_ok = 0) { return 400 '{"error":"Bad request. Required metadata header not specified"}'; }
            try_files /imds-instance.json =500;
        }
        location = /metadata/instance/compute/location {
            if (\$imds_ok = 0) { return 400 '{"error":"Bad request. Required metadata header not specified"}'; }
            default_type text/plain;
            return 200 'northeurope';
        }
        # Managed identity token; "rig.sh arm STATE noidentity" makes it a VM without identity.
        location = /metadata/identity/oauth2/token {
            if (\$imds_ok = 0) { return 400 '{"error":"invalid_request","error_description":"Required metadata header not specified"}'; }
            if (-f $W/identity-off) { return 400 '{"error":"invalid_request","error_description":"Identity not found"}'; }
            if (\$arg_resource = "") { return 400 '{"error":"invalid_resource","error_description":"AADSTS50001: resource is required"}'; }
            try_files /imds-token.json =500;
        }
        location = /metadata/versions {
            return 200 '{"apiVersions":["2017-03-01","2018-02-01","2019-06-01","2020-09-01","2021-02-01","2023-07-01","2025-04-07"]}';
        }
        location / { return 404 '{"error":"Not found"}'; }
    }
}
EOF
    } > "$R/nginx.conf" || die "cannot write nginx.conf"
}

start_nginx() {
    write_nginx_conf
    run in_az nginx -t -q -c "$STATE/run/nginx.conf" -e "$STATE/run/nginx-error.log"
    # nginx daemonizes; its pid file gives the master's pid.
    in_az nginx -c "$STATE/run/nginx.conf" -e "$STATE/run/nginx-error.log" </dev/null \
        >"$STATE/run/nginx.out" 2>&1 || die "nginx did not start"
    i=0
    while [ ! -s "$STATE/run/nginx.pid" ]; do
        i=$((i + 1)); [ $i -ge 50 ] && die "nginx wrote no pid file"
        sleep 0.1
    done
    env_add NGINX_PID "$(cat "$STATE/run/nginx.pid")"
    wait_for "WireServer" in_vm curl -sf --noproxy '*' -m 2 -o /dev/null "http://$WIRESERVER/?comp=versions"
    wait_for "storage TLS" in_vm curl -s --noproxy '*' -m 2 -o /dev/null --cacert "$STATE/ca.pem" \
        --resolve "st1.blob.core.windows.net:443:$ST_GOOD" https://st1.blob.core.windows.net/
    # The hostile endpoint (endless headers, slow sender) with the good certificate.
    ip netns exec "$AZ_NS" /usr/bin/python3 "$HERE/hostile.py" "$ST_HOSTILE" "$STATE/pki/leaf-chain.pem" \
        "$STATE/pki/leaf.key" </dev/null >"$STATE/hostile.log" 2>&1 &
    env_add HOSTILE_PID $!
    wait_for "hostile endpoint" in_vm sh -c "openssl s_client -connect $ST_HOSTILE:8443 </dev/null >/dev/null 2>&1"
}

# squid as the rig's HTTP proxies (tests/net/squid.conf.in). Everything it writes is in
# STATE/squid, owned by its unprivileged user; squid.conf and the password file stay root's.
start_squid() {
    if ! command -v squid >/dev/null 2>&1 || [ ! -x /usr/lib/squid/basic_ncsa_auth ]; then
        log "up: squid is not installed: no HTTP proxies in this rig (apt-get install squid)"
        return 0
    fi
    SQ=$STATE/squid
    run mkdir -p "$SQ"
    # The proxy user must reach STATE/squid: allow traversal of the state dir (x only, no
    # listing); private keys in pki/ stay 0600.
    run chmod a+x "$STATE"
    run chown proxy:proxy "$SQ"
    run chmod 0750 "$SQ"
    runuser -u proxy -- test -w "$SQ" -a -x "$SQ" \
        || die "squid's user 'proxy' cannot write $SQ: put the state dir where 'proxy' can traverse"
    sed -e "s|@SQ@|$SQ|g" -e "s|@DNS@|$AZ_IP|g" "$HERE/squid.conf.in" > "$SQ/squid.conf" \
        || die "cannot write $SQ/squid.conf"
    hash=$(openssl passwd -apr1 "$PROXY_PASSWORD") || die "openssl passwd failed"
    printf '%s:%s\n' "$PROXY_USER" "$hash" > "$SQ/passwd" || die "cannot write $SQ/passwd"
    run chown root:proxy "$SQ/passwd"
    run chmod 0640 "$SQ/passwd"
    # -n: a service name of our own, so the shared-memory segments squid 5 creates even
    # without SMP (/dev/shm/<name>-cf__*.shm, removed when it exits) never collide with the
    # system squid or another rig.
    SQ_NAME=azbp$$
    env_add SQUID_NAME "$SQ_NAME"
    in_az squid -n "$SQ_NAME" -k parse -f "$SQ/squid.conf" >"$SQ/parse.out" 2>&1 \
        || die "squid rejects $SQ/squid.conf (see $SQ/parse.out)"
    # -N: foreground, no kids, and ip netns exec execs it, so $! is squid itself. -f: our config
    # only (never /etc/squid/squid.conf).
    ip netns exec "$AZ_NS" squid -n "$SQ_NAME" -N -f "$SQ/squid.conf" </dev/null >"$SQ/squid.out" 2>&1 &
    SQUID_PID=$!
    env_add SQUID_PID "$SQUID_PID"
    i=0
    until in_vm curl -s --noproxy '' -m 2 -o /dev/null --cacert "$STATE/ca.pem" \
            -x "http://$PROXY_OPEN:3128" https://st1.blob.core.windows.net/ >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -ge 100 ] && die "squid is not answering on $PROXY_OPEN:3128"
        alive "$SQUID_PID" || die "squid exited (see $SQ/squid.out, $SQ/cache.log)"
        sleep 0.1
    done
}

# The fake ARM (tests/net/fakearm.py) on $ARM_IP:443 with its own leaf; mode "ok".
start_fakearm() {
    : > "$STATE/fakearm.log" || die "cannot write fakearm.log"
    echo ok > "$STATE/fakearm.mode" || die "cannot write fakearm.mode"
    env_add ARM_IP "$ARM_IP"
    env_add ARM_HOST "$ARM_HOST"
    env_add ARM_TOKEN "$ARM_TOKEN"
    # ip netns exec execs python, so $! is fakearm.py itself.
    ip netns exec "$AZ_NS" /usr/bin/python3 "$HERE/fakearm.py" "$ARM_IP" 443 "$STATE/pki/arm-chain.pem" \
        "$STATE/pki/arm-leaf.key" "$HERE/../fixtures/azure-json" "$STATE" "$ARM_TOKEN" \
        </dev/null >"$STATE/fakearm.out" 2>&1 &
    env_add FAKEARM_PID $!
    wait_for "fake ARM" in_vm curl -s --noproxy '*' -m 2 -o /dev/null --cacert "$STATE/ca.pem" \
        "https://$ARM_HOST/"
}

do_arm() {  # MODE
    load_env || exit 1
    case "$1" in
        ok|403|403-read|403-leak|429|500|badjson|offorigin)
            echo "$1" > "$STATE/fakearm.mode" || exit 1 ;;
        noidentity) : > "$STATE/www/identity-off" || exit 1 ;;
        identity)   rm -f "$STATE/www/identity-off" ;;
        *) usage ;;
    esac
    log "arm: $1"
}

do_up() {
    [ "$(id -u)" = 0 ] || { log "up: needs root (network namespaces)"; exit 1; }
    for t in ip nft dnsmasq nginx openssl dig curl /usr/bin/python3; do
        command -v "$t" >/dev/null 2>&1 || { log "up: missing tool: $t"; exit 1; }
    done
    /usr/bin/python3 -c 'import dnslib' 2>/dev/null || { log "up: /usr/bin/python3 lacks dnslib (apt-get install python3-dnslib)"; exit 1; }
    mkdir -p "$STATE" || { log "up: cannot create $STATE"; exit 1; }
    if [ -e "$STATE/env" ]; then
        log "up: $STATE/env exists: run 'rig.sh down $STATE' first"
        exit 1
    fi
    # Names are unique per run, so parallel rigs and leftovers never collide.
    VM_NS=azbp-vm-$$
    AZ_NS=azbp-az-$$
    # Write the env before creating anything, so down can undo a partial up.
    : > "$STATE/env" || { log "up: cannot write $STATE/env"; exit 1; }
    env_add VM_NS "$VM_NS"
    env_add AZ_NS "$AZ_NS"
    env_add STATE_DIR "$STATE"
    env_add CA_PEM "$STATE/ca.pem"
    trap 'die "interrupted"' INT TERM HUP

    make_netns
    make_firewalls
    make_pki
    start_dns
    start_nginx
    start_squid
    start_fakearm
    # Azure's DHCP always answers, with option 245: so does the rig unless a test says otherwise.
    do_dhcp on

    trap - INT TERM HUP
    log "up: VM_NS=$VM_NS AZ_NS=$AZ_NS state=$STATE"
}

# ---------------------------------------------------------------- DHCP server and capture
# Both run in az, are started after up (any number of times) and keep their pid in a file of
# the state dir: dhcp.pid, capture.pid. Neither ever runs in, or touches, the root namespace.

# Pid from a pid file, only while that pid still runs our program (comm) in our az namespace.
pid_of() {  # pidfile comm
    [ -r "$1" ] || return 1
    p=$(cat "$1" 2>/dev/null)
    case "$p" in ''|*[!0-9]*) return 1 ;; esac
    alive "$p" || return 1
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$2" ] || return 1
    [ "$(ip netns identify "$p" 2>/dev/null)" = "$AZ_NS" ] || return 1
    echo "$p"
}

stop_dhcp() {
    if p=$(pid_of "$STATE/dhcp.pid" dnsmasq); then
        kill_ours "$p"
    fi
    rm -f "$STATE/dhcp.pid"
}

stop_capture() {
    if p=$(pid_of "$STATE/capture.pid" tcpdump); then
        # tcpdump -U has written every packet already; TERM makes it close the file.
        kill_ours "$p"
    fi
    rm -f "$STATE/capture.pid"
}

# Dotted quad -> the colon-hex bytes dnsmasq sends verbatim (168.63.129.16 -> a8:3f:81:10).
ip_hex() {
    echo "$1" | awk -F. 'NF == 4 {
        for (i = 1; i <= 4; i++) if ($i !~ /^[0-9]+$/ || $i + 0 > 255) exit 1
        printf "%02x:%02x:%02x:%02x\n", $1, $2, $3, $4; exit 0 } { exit 1 }'
}

dhcp_conf() {  # option 245 as colon hex, or empty for none
    cat <<EOF
# dnsmasq as the rig's DHCP server (Azure's, seen from the VM): DHCP only (port=0), on az0 only.
port=0
interface=az0
bind-interfaces
no-resolv
no-hosts
no-poll
pid-file=
user=root
dhcp-range=$DHCP_FIRST,$DHCP_LAST,255.255.255.0,$DHCP_LEASE
dhcp-authoritative
# Without no-ping, dnsmasq pings a new address first and the OFFER comes ~3 s late.
no-ping
dhcp-leasefile=$STATE/dnsmasq-dhcp.leases
dhcp-option=option:router,$AZ_IP
dhcp-option=option:dns-server,$AZ_IP
dhcp-option=option:domain-name,$DHCP_DOMAIN
log-dhcp
log-facility=$STATE/dnsmasq-dhcp.log
EOF
    if [ -n "$1" ]; then
        echo "# Option 245 (WireServer address), forced: sent without being requested, as Azure does."
        echo "dhcp-option-force=245,$1"
    else
        echo "# No option 245 (rig.sh dhcp STATE on none)."
    fi
}

# dnsmasq serves once ss shows its DHCP socket (0.0.0.0:67 bound to az0, in az) with its pid.
dhcp_listening() {
    ip netns exec "$AZ_NS" ss -Hlunp 'sport = :67' 2>/dev/null | grep -q "pid=$1,"
}

do_dhcp() {  # on [ADDR|none] | off
    load_env || exit 1
    case "${1:-}" in
        off)
            [ $# -eq 1 ] || usage
            stop_dhcp
            log "dhcp: off"
            return 0 ;;
        on)
            [ $# -le 2 ] || usage
            addr=${2:-$WIRESERVER} ;;
        *) usage ;;
    esac
    if [ "$addr" = none ]; then
        opt=''
    else
        opt=$(ip_hex "$addr") || { log "dhcp: not an IPv4 address: $addr"; exit 2; }
    fi
    conf=$STATE/dnsmasq-dhcp.conf
    dhcp_conf "$opt" > "$conf.new" || { log "dhcp: cannot write $conf.new"; exit 1; }
    # Same configuration and still serving: nothing to do.
    if p=$(pid_of "$STATE/dhcp.pid" dnsmasq) && cmp -s "$conf.new" "$conf" && dhcp_listening "$p"; then
        rm -f "$conf.new"
        log "dhcp: already on (pid $p, option 245 ${opt:-none})"
        return 0
    fi
    stop_dhcp
    mv "$conf.new" "$conf" || exit 1
    if ! ip netns exec "$AZ_NS" dnsmasq --test --conf-file="$conf" >"$STATE/dnsmasq-dhcp.out" 2>&1; then
        log "dhcp: dnsmasq rejects $conf:"
        cat "$STATE/dnsmasq-dhcp.out" >&2
        exit 1
    fi
    # -k: foreground, and ip netns exec execs it, so $! is dnsmasq itself.
    ip netns exec "$AZ_NS" dnsmasq -k --conf-file="$conf" </dev/null >"$STATE/dnsmasq-dhcp.out" 2>&1 &
    p=$!
    echo "$p" > "$STATE/dhcp.pid"
    i=0
    until dhcp_listening "$p"; do
        i=$((i + 1))
        if [ $i -ge 50 ] || ! alive "$p"; then
            log "dhcp: dnsmasq (pid $p) is not serving on az0:67"
            tail -n 5 "$STATE/dnsmasq-dhcp.out" "$STATE/dnsmasq-dhcp.log" >&2 2>/dev/null
            stop_dhcp
            exit 1
        fi
        sleep 0.1
    done
    log "dhcp: on (pid $p, option 245 ${opt:-none})"
}

do_capture() {  # start FILE | stop
    load_env || exit 1
    case "${1:-}" in
        stop)
            [ $# -eq 1 ] || usage
            stop_capture
            return 0 ;;
        start)
            [ $# -eq 2 ] || usage
            file=$2 ;;
        *) usage ;;
    esac
    case "$file" in /*) ;; *) file=$(pwd)/$file ;; esac
    command -v tcpdump >/dev/null 2>&1 || { log "capture: tcpdump is not installed"; exit 1; }
    stop_capture
    rm -f "$file"
    # -U: each packet is written at once (nothing lost to a kill); --immediate-mode: no kernel
    # batching; -Z root: keep writing as root (Debian's tcpdump would switch to user tcpdump,
    # who cannot write into the private state dir); -n: no name lookups.
    ip netns exec "$AZ_NS" tcpdump -i az0 -n -U --immediate-mode -Z root -s 2048 -w "$file" \
        'udp port 67 or udp port 68' </dev/null >"$STATE/capture.out" 2>"$STATE/capture.err" &
    p=$!
    echo "$p" > "$STATE/capture.pid"
    # Ready once it says "listening on az0" (printed after pcap_activate and the filter) and the
    # file exists: packets sent after that are in the capture.
    i=0
    until grep -q '^tcpdump: listening on az0' "$STATE/capture.err" 2>/dev/null && [ -e "$file" ]; do
        i=$((i + 1))
        if [ $i -ge 50 ] || ! alive "$p"; then
            log "capture: tcpdump (pid $p) did not start"
            cat "$STATE/capture.err" >&2
            stop_capture
            exit 1
        fi
        sleep 0.1
    done
    log "capture: pid $p writing $file"
}

# ---------------------------------------------------------------- main

[ $# -ge 2 ] || usage
cmd=$1
STATE=$2
shift 2
case "$STATE" in /*) ;; *) STATE=$(pwd)/$STATE ;; esac

case "$cmd" in
    up)   [ $# -eq 0 ] || usage; do_up ;;
    down) [ $# -eq 0 ] || usage; do_down ;;
    vm)   [ $# -ge 1 ] || usage; load_env || exit 1; exec ip netns exec "$VM_NS" "$@" ;;
    az)   [ $# -ge 1 ] || usage; load_env || exit 1; exec ip netns exec "$AZ_NS" "$@" ;;
    nsg)
        [ $# -eq 1 ] || usage; load_env || exit 1
        ip netns exec "$AZ_NS" nft "add rule inet azbp_nsg custom $1" || { log "nsg: rule rejected: $1"; exit 1; } ;;
    nsg-flush)
        [ $# -eq 0 ] || usage; load_env || exit 1
        ip netns exec "$AZ_NS" nft flush chain inet azbp_nsg custom ;;
    guestfw)
        [ $# -eq 1 ] || usage; load_env || exit 1
        ip netns exec "$VM_NS" nft "add rule inet azbp_guest output $1" || { log "guestfw: rule rejected: $1"; exit 1; } ;;
    guestfw-flush)
        [ $# -eq 0 ] || usage; load_env || exit 1
        ip netns exec "$VM_NS" nft flush chain inet azbp_guest output ;;
    dhcp)    [ $# -ge 1 ] || usage; do_dhcp "$@" ;;
    capture) [ $# -ge 1 ] || usage; do_capture "$@" ;;
    arm)     [ $# -eq 1 ] || usage; do_arm "$1" ;;
    *) usage ;;
esac
