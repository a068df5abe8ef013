#!/usr/bin/env bash
# conform check against cfn-guard validate, on the same input: one AWS Config snapshot file of
# N attached EBS volume configuration items (default 30,000; half of them unencrypted), with the
# equivalent rule in each tool (ENCRYPTED_VOLUMES). Reports wall time and peak memory of each.
#
#   host/benches/cfn-guard.sh            # N=30000; installs cfn-guard 3.2.1 with cargo if needed
#
# cfn-guard is installed under target/, never committed or vendored.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${N:-30000}"
work=target/cfn-guard-compare
mkdir -p "$work"

guard="$(command -v cfn-guard || true)"
if [ -z "$guard" ]; then
    guard="$work/bin/cfn-guard"
    if [ ! -x "$guard" ]; then
        echo "installing cfn-guard 3.2.1 with cargo (a few minutes, once)" >&2
        cargo install cfn-guard --version 3.2.1 --locked --root "$work" --quiet
    fi
fi
cargo build --release --locked --quiet
conform=target/release/conform

# The input: one snapshot file, as AWS delivers it, of N attached volumes.
python3 - "$n" > "$work/volumes.json" <<'PY'
import json, sys
n = int(sys.argv[1])
items = []
for i in range(n):
    vid = f"vol-{i:017x}"
    items.append({
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": "2026-11-16T06:00:00.000Z",
        "configurationStateId": 1763272800000 + i,
        "awsAccountId": "111122223333",
        "configurationItemStatus": "OK",
        "resourceType": "AWS::EC2::Volume",
        "resourceId": vid,
        "ARN": f"arn:aws:ec2:us-east-1:111122223333:volume/{vid}",
        "awsRegion": "us-east-1",
        "availabilityZone": "us-east-1a",
        "tags": {"Name": f"data-{i}", "Team": "storage"},
        "relationships": [{"resourceType": "AWS::EC2::Instance", "resourceId": f"i-{i:017x}", "name": "Is attached to Instance"}],
        "configuration": {
            "volumeId": vid, "size": 8 + i % 512, "snapshotId": "", "availabilityZone": "us-east-1a",
            "state": "in-use", "createTime": "2026-01-01T00:00:00.000Z", "volumeType": "gp3",
            "iops": 3000, "throughput": 125, "encrypted": i % 2 == 0, "multiAttachEnabled": False,
            "attachments": [{"attachTime": "2026-01-01T00:00:00.000Z", "device": "/dev/xvda",
                             "instanceId": f"i-{i:017x}", "state": "attached", "volumeId": vid,
                             "deleteOnTermination": True}],
            "tags": [{"key": "Name", "value": f"data-{i}"}, {"key": "Team", "value": "storage"}],
        },
        "supplementaryConfiguration": {},
    })
json.dump({"fileVersion": "1.0", "configSnapshotId": "00000000-0000-4000-8000-00000000cafe",
           "configurationItems": items}, sys.stdout)
PY

# The same rule for cfn-guard: every volume's configuration is encrypted.
cat > "$work/encrypted-volumes.guard" <<'GUARD'
rule ENCRYPTED_VOLUMES { configurationItems[ resourceType == "AWS::EC2::Volume" ].configuration.encrypted == true }
GUARD

size=$(du -m "$work/volumes.json" | cut -f1)
echo "input: $n volume items, ${size} MiB, one file"
# Both exit non-zero: half the volumes are unencrypted. Only the timings matter here.
/usr/bin/time -f "cfn-guard validate: %e s, peak %M KiB" \
    "$guard" validate --data "$work/volumes.json" --rules "$work/encrypted-volumes.guard" \
    > "$work/cfn-guard.out" 2>"$work/cfn-guard.time" || true
tail -n 1 "$work/cfn-guard.time"
for jobs in 1 ""; do
    /usr/bin/time -f "conform check${jobs:+ (one worker)}: %e s, peak %M KiB" \
        "$conform" check "$work/volumes.json" --only ENCRYPTED_VOLUMES --format json ${jobs:+--jobs $jobs} \
        > "$work/conform.out" 2>"$work/conform.time" || true
    tail -n 1 "$work/conform.time"
done
python3 - "$work/conform.out" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print("conform found", len(report["nonCompliant"]), "non-compliant volumes")
PY
