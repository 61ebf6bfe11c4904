#!/usr/bin/env bash
# A throw-away one-node Ceph (1 mon, 1 bluestore OSD on a sparse file, no mgr)
# with radosgw on 127.0.0.1:7480 (HTTP) and 127.0.0.1:7443 (HTTPS, with the
# test certificate in testdata/tls) and user AKIAIOSFODNN7EXAMPLE. Loopback only.
# Needs: apt-get install radosgw ceph-mon ceph-osd. Prints READY when serving.
# Stop it with: .ci/ceph-rgw.sh stop
set -euo pipefail
D=${CEPH_DIR:-$PWD/target/ceph}
TLS=$(cd "$(dirname "$0")/.." && pwd)/testdata/tls

if [[ "${1:-}" == "stop" ]]; then
    for f in "$D"/run/*.pid; do
        [[ -e "$f" ]] && kill "$(cat "$f")" 2>/dev/null || true
    done
    exit 0
fi

# Leftovers of an earlier run in the same directory would hold the ports.
for f in "$D"/run/*.pid; do
    [[ -e "$f" ]] && kill "$(cat "$f")" 2>/dev/null || true
done
rm -rf "$D"
mkdir -p "$D"/{mon,osd0,run,log,rgw}
cp "$TLS/server.pem" "$D/rgw.crt"
cp "$TLS/server-key.pem" "$D/rgw.key"
FSID=$(cat /proc/sys/kernel/random/uuid)
KMS_KEY=$(head -c32 /dev/urandom | base64)
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:3300,v1:127.0.0.1:6789
public addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $D/keyring
run dir = $D/run
admin socket = $D/run/\$name.asok
log file = $D/log/\$name.log
pid file = $D/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# A throw-away cluster on a shared disk: never refuse to start because the
# host's file system is fuller than a production monitor would accept.
mon data avail crit = 0
mon data avail warn = 0
osd objectstore = bluestore
bluestore block path = $D/osd0.block
bluestore block create = true
bluestore block size = 21474836480
bluestore fsck on mkfs = false
bluestore cache size = 268435456
osd memory target = 939524096
[mon.a]
mon data = $D/mon
[osd.0]
osd data = $D/osd0
keyring = $D/osd0/keyring
[client.rgw]
keyring = $D/rgw.keyring
rgw frontends = beast endpoint=127.0.0.1:7480 ssl_endpoint=127.0.0.1:7443 ssl_certificate=$D/rgw.crt ssl_private_key=$D/rgw.key
rgw data = $D/rgw
rgw enable usage log = false
# Deleted objects' data is reclaimed by the garbage collector, by default
# two hours later: benchmarks writing tens of GiB would fill the 20 GiB OSD.
rgw gc obj min wait = 10
rgw gc processor period = 10
rgw crypt require ssl = false
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555=$KMS_KEY
CONF
C="-c $D/ceph.conf"
ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$D/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
monmaptool --create --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon $C --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
ceph-mon $C -i a
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
ID=$(ceph $C osd new "$OSD_UUID")
ceph-authtool --create-keyring "$D/osd0/keyring" --gen-key -n "osd.$ID" >/dev/null
ceph $C auth add "osd.$ID" osd 'allow *' mon 'allow profile osd' -i "$D/osd0/keyring" >/dev/null 2>&1
ceph-osd $C -i "$ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1
ceph-osd $C -i "$ID"
ceph $C auth get-or-create client.rgw mon 'allow rw' osd 'allow rwx' -o "$D/rgw.keyring"
for _ in $(seq 1 60); do ceph $C osd stat 2>/dev/null | grep -q "1 up" && break; sleep 1; done
radosgw $C -n client.rgw
for _ in $(seq 1 120); do curl -s -o /dev/null http://127.0.0.1:7480/ && break; sleep 0.5; done
radosgw-admin $C user create --uid=registry --display-name=registry \
    --access-key=AKIAIOSFODNN7EXAMPLE --secret-key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY >/dev/null
# REDUCED_REDUNDANCY must exist in the placement target (STANDARD always does).
radosgw-admin $C zonegroup placement add --rgw-zonegroup default --placement-id default-placement --storage-class REDUCED_REDUNDANCY >/dev/null
radosgw-admin $C zone placement add --rgw-zone default --placement-id default-placement --storage-class REDUCED_REDUNDANCY --data-pool default.rgw.buckets.data >/dev/null
# Restart it; the new one can only take the pid file once the old one is gone.
old=$(cat "$D/run/client.rgw.pid")
kill "$old"
for _ in $(seq 1 240); do kill -0 "$old" 2>/dev/null || break; sleep 0.25; done
radosgw $C -n client.rgw
for _ in $(seq 1 120); do curl -s -o /dev/null http://127.0.0.1:7480/ && break; sleep 0.25; done
curl -s -o /dev/null --cacert "$TLS/ca.pem" https://127.0.0.1:7443/
echo READY
