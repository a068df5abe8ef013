//! Synthetic estates: realistic configuration items, a series of snapshots with churn, written
//! as AWS Config delivers them to S3.
//!
//! Used for the bundled sample estate and for benchmarks. Output is deterministic for a seed.
//! With `bucket`, every delivery goes into one `AWSLogs/` tree, as `aws s3 sync` leaves an
//! organisation's bucket: accounts deliver at their own hours (`stagger_hours`), some
//! deliveries are missed (`missed`), and history files record each change (`history`).
//! Items are in the file dialect of AWS snapshot files (`awsAccountId`, `ARN`,
//! `configurationItemVersion`, numeric `configurationStateId`, relationship `name`), one file per
//! account and region under `AWSLogs/<account>/Config/<region>/<y>/<m>/<d>/ConfigSnapshot/`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Resources in the first snapshot.
    pub items: usize,
    /// Fraction of resources that change between consecutive snapshots (0.01 = 1%): 60% of
    /// the changes modify a resource, 20% delete one and 20% add a new one.
    pub churn: f64,
    pub snapshots: usize,
    pub accounts: usize,
    pub seed: u64,
    pub start: Timestamp,
    pub interval: SignedDuration,
    /// Write `.json.gz` as AWS does, rather than plain `.json`.
    pub gzip: bool,
    /// How many regions the estate spans (at most 17).
    pub regions: usize,
    /// Write one `AWSLogs/` tree with every delivery, rather than a directory per snapshot.
    pub bucket: bool,
    /// Account `i` delivers `i % (stagger_hours + 1)` hours after the start of each period.
    pub stagger_hours: u32,
    /// Share of deliveries (after the first of each account and region) that never arrive.
    pub missed: f64,
    /// Write a history file per account, region and resource type with the changes since the
    /// previous delivery.
    pub history: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            items: 1000,
            churn: 0.01,
            snapshots: 1,
            accounts: 2,
            seed: 1,
            start: "2026-11-02T06:00:00Z".parse().expect("valid time"),
            interval: SignedDuration::from_hours(24),
            gzip: false,
            regions: 2,
            bucket: false,
            stagger_hours: 0,
            missed: 0.0,
            history: false,
        }
    }
}

/// What was written: one directory per snapshot, or the bucket's root.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Generated {
    pub snapshot_dirs: Vec<PathBuf>,
    pub items_written: u64,
    pub bytes_written: u64,
    /// Delivery files written: snapshot files, and history files.
    pub snapshot_files: u64,
    pub history_files: u64,
    pub missed_deliveries: u64,
}

/// AWS regions, in the order an estate spans them.
const REGIONS: [&str; 17] = [
    "us-east-1",
    "eu-west-1",
    "us-west-2",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "us-east-2",
    "eu-west-2",
    "ap-south-1",
    "ca-central-1",
    "sa-east-1",
    "eu-north-1",
    "ap-southeast-2",
    "us-west-1",
    "eu-west-3",
    "ap-northeast-2",
    "ap-northeast-3",
];
/// The resource types, with how many of every thousand resources drawn are of each: a mix like
/// a working AWS estate's, mostly volumes, instances and security groups, with few trails.
/// Besides those drawn, every account and region starts with a trail of its own, as an estate
/// that records its API calls does.
const KINDS: [(&str, u32); 8] = [
    ("AWS::EC2::Volume", 250),
    ("AWS::EC2::Instance", 190),
    ("AWS::EC2::SecurityGroup", 200),
    ("AWS::S3::Bucket", 100),
    ("AWS::RDS::DBInstance", 40),
    ("AWS::IAM::User", 110),
    ("AWS::CloudTrail::Trail", 2),
    ("AWS::KMS::Key", 108),
];
const TRAIL: usize = 6;

/// A kind drawn by the weights of `KINDS`.
fn draw_kind(rng: &mut fastrand::Rng) -> usize {
    let mut n = rng.u32(..KINDS.iter().map(|(_, weight)| weight).sum::<u32>());
    for (index, (_, weight)) in KINDS.iter().enumerate() {
        if n < *weight {
            return index;
        }
        n -= weight;
    }
    unreachable!("the draw is below the sum of the weights")
}

/// One resource of the estate and its current revision.
#[derive(Debug, Clone)]
struct Resource {
    kind: usize,
    serial: u64,
    account: usize,
    region: usize,
    revision: u32,
    /// Fixed per resource: whether it follows good practice (encrypted, private, ...).
    compliant_bits: u32,
}

/// Writes `options.snapshots` snapshot directories under `out`.
pub fn generate(out: &Path, options: &GenerateOptions) -> std::io::Result<Generated> {
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let regions = options.regions.clamp(1, REGIONS.len());
    let accounts: Vec<String> = (0..options.accounts.max(1))
        // Twelve digits, as AWS account ids are: distinct for any count (the step is prime to 10).
        .map(|i| {
            format!(
                "{:012}",
                (111_122_223_333u64 + i as u64 * 333_300_000_111) % 1_000_000_000_000
            )
        })
        .collect();
    let account_count = accounts.len();
    let mut next_serial = 0u64;
    let mut new_resource = |rng: &mut fastrand::Rng, scope_trail: Option<usize>| {
        next_serial += 1;
        let (kind, account, region) = match scope_trail {
            Some(scope) => (TRAIL, scope / regions, scope % regions),
            None => (
                draw_kind(rng),
                rng.usize(..account_count),
                rng.usize(..regions),
            ),
        };
        Resource {
            kind,
            serial: next_serial,
            account,
            region,
            revision: 0,
            compliant_bits: rng.u32(..),
        }
    };
    let scopes = account_count * regions;
    let mut estate: Vec<Resource> = (0..options.items)
        .map(|i| new_resource(&mut rng, (i < scopes).then_some(i)))
        .collect();
    let mut generated = Generated {
        snapshot_dirs: Vec::new(),
        items_written: 0,
        bytes_written: 0,
        snapshot_files: 0,
        history_files: 0,
        missed_deliveries: 0,
    };
    if options.bucket {
        generated.snapshot_dirs.push(out.to_path_buf());
    }
    for n in 0..options.snapshots {
        // What changed since the previous delivery, for history files: the resources as they
        // are now, and the ones deleted, as they were.
        let mut changed: Vec<(Resource, bool)> = Vec::new();
        if n > 0 {
            let changes = ((estate.len() as f64) * options.churn).round() as usize;
            // A fifth of the changes delete a resource and as many add one; the rest modify.
            let deletions = changes.div_ceil(5).min(changes / 2);
            let mut modified = Vec::new();
            for _ in 0..changes.saturating_sub(2 * deletions) {
                let i = rng.usize(..estate.len());
                estate[i].revision += 1;
                modified.push(estate[i].serial);
            }
            for _ in 0..deletions {
                if !estate.is_empty() {
                    let gone = estate.swap_remove(rng.usize(..estate.len()));
                    changed.push((gone, true));
                }
            }
            for _ in 0..deletions {
                let added = new_resource(&mut rng, None);
                modified.push(added.serial);
                estate.push(added);
            }
            if options.history {
                modified.sort_unstable();
                modified.dedup();
                let deleted: Vec<u64> = changed.iter().map(|(r, _)| r.serial).collect();
                changed.extend(
                    estate
                        .iter()
                        .filter(|r| {
                            modified.binary_search(&r.serial).is_ok()
                                && !deleted.contains(&r.serial)
                        })
                        .map(|r| (r.clone(), false)),
                );
            }
        }
        let taken_at = options.start + options.interval * n as i32;
        let dir = if options.bucket {
            out.to_path_buf()
        } else {
            out.join(format!("snapshot-{:04}", n + 1))
        };
        let delivery = Delivery {
            dir: &dir,
            accounts: &accounts,
            taken_at,
            gzip: options.gzip,
            stagger_hours: options.stagger_hours,
        };
        // The first delivery of every scope arrives; later ones may be missed.
        let missed = options.missed;
        let mut miss = |rng: &mut fastrand::Rng| n > 0 && missed > 0.0 && rng.f64() < missed;
        let written = delivery.snapshots(&estate, &mut rng, &mut miss, &mut generated)?;
        if options.history && n > 0 {
            delivery.history(&changed, options.interval, &mut rng, &mut generated)?;
        }
        generated.items_written += written.0;
        generated.bytes_written += written.1;
        if !options.bucket {
            generated.snapshot_dirs.push(dir);
        }
    }
    Ok(generated)
}

/// Where and when one round of deliveries is written.
struct Delivery<'a> {
    dir: &'a Path,
    accounts: &'a [String],
    taken_at: Timestamp,
    gzip: bool,
    stagger_hours: u32,
}

impl Delivery<'_> {
    /// When `account` delivers in this round.
    fn time(&self, account: usize) -> Timestamp {
        let offset = account as i64 % (self.stagger_hours as i64 + 1);
        self.taken_at + SignedDuration::from_hours(offset)
    }

    /// The folder of a scope's deliveries of a kind on the day of `time`.
    fn folder(&self, account: usize, region: usize, time: Timestamp, kind: &str) -> PathBuf {
        let date = time.to_zoned(jiff::tz::TimeZone::UTC);
        self.dir
            .join("AWSLogs")
            .join(&self.accounts[account])
            .join("Config")
            .join(REGIONS[region])
            .join(date.year().to_string())
            .join(date.month().to_string())
            .join(date.day().to_string())
            .join(kind)
    }

    fn write(&self, path: PathBuf, text: &[u8]) -> std::io::Result<()> {
        if self.gzip {
            let file = std::fs::File::create(path.with_extension("json.gz"))?;
            let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
            encoder.write_all(text)?;
            encoder.finish()?;
            Ok(())
        } else {
            std::fs::write(path, text)
        }
    }

    /// One snapshot file per account and region, unless `miss` says it never arrived.
    /// Items and bytes written.
    fn snapshots(
        &self,
        estate: &[Resource],
        rng: &mut fastrand::Rng,
        miss: &mut dyn FnMut(&mut fastrand::Rng) -> bool,
        generated: &mut Generated,
    ) -> std::io::Result<(u64, u64)> {
        let mut groups: BTreeMap<(usize, usize), Vec<&Resource>> = BTreeMap::new();
        for r in estate {
            groups.entry((r.account, r.region)).or_default().push(r);
        }
        let (mut items, mut bytes) = (0, 0);
        for ((account, region), resources) in groups {
            if miss(rng) {
                generated.missed_deliveries += 1;
                continue;
            }
            let taken_at = self.time(account);
            let written = write_snapshot(self, account, region, taken_at, &resources, rng)?;
            generated.snapshot_files += 1;
            items += resources.len() as u64;
            bytes += written;
        }
        Ok((items, bytes))
    }

    /// History files: per account, region and type, the changes since the round before, each
    /// captured at a time in between.
    fn history(
        &self,
        changed: &[(Resource, bool)],
        interval: SignedDuration,
        rng: &mut fastrand::Rng,
        generated: &mut Generated,
    ) -> std::io::Result<()> {
        // By (account, region, kind): one history file each.
        type Scope = (usize, usize, usize);
        let mut groups: BTreeMap<Scope, Vec<&(Resource, bool)>> = BTreeMap::new();
        for c in changed {
            groups
                .entry((c.0.account, c.0.region, c.0.kind))
                .or_default()
                .push(c);
        }
        for ((account, region, kind), changes) in groups {
            let end = self.time(account);
            let start = end - interval;
            let account_id = &self.accounts[account];
            let region_name = REGIONS[region];
            let folder = self.folder(account, region, end, "ConfigHistory");
            std::fs::create_dir_all(&folder)?;
            let stamp = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
            let name = format!(
                "{account_id}_Config_{region_name}_ConfigHistory_{}_{}_{}_1.json",
                KINDS[kind].0,
                stamp(start),
                stamp(end)
            );
            let mut text = Vec::with_capacity(changes.len() * 1400 + 64);
            text.extend_from_slice(b"{\"fileVersion\":\"1.0\",\"configurationItems\":[");
            for (i, (r, deleted)) in changes.iter().enumerate() {
                if i > 0 {
                    text.push(b',');
                }
                let span = interval.as_millis() as i64;
                let capture = start + SignedDuration::from_millis(rng.i64(1..span.max(2)));
                let mut item = item(r, account_id, region_name, capture);
                if *deleted {
                    item["configurationItemStatus"] = json!("ResourceDeleted");
                    item["configuration"] = Value::Null;
                    item["supplementaryConfiguration"] = json!({});
                    item["relationships"] = json!([]);
                }
                serde_json::to_writer(&mut text, &item)?;
            }
            text.extend_from_slice(b"]}");
            self.write(folder.join(name), &text)?;
            generated.history_files += 1;
        }
        Ok(())
    }
}

/// Writes one account and region's snapshot file; the bytes of JSON written.
fn write_snapshot(
    delivery: &Delivery<'_>,
    account: usize,
    region: usize,
    taken_at: Timestamp,
    resources: &[&Resource],
    rng: &mut fastrand::Rng,
) -> std::io::Result<u64> {
    let stamp = taken_at.strftime("%Y%m%dT%H%M%SZ").to_string();
    let account_id = &delivery.accounts[account];
    let region_name = REGIONS[region];
    let folder = delivery.folder(account, region, taken_at, "ConfigSnapshot");
    std::fs::create_dir_all(&folder)?;
    let snapshot_id = format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        rng.u32(..),
        rng.u16(..),
        rng.u16(..0xfff),
        rng.u16(..0xfff),
        rng.u64(..1 << 48)
    );
    let name =
        format!("{account_id}_Config_{region_name}_ConfigSnapshot_{stamp}_{snapshot_id}.json");
    let mut text = Vec::with_capacity(resources.len() * 1400 + 128);
    write!(
        text,
        "{{\"fileVersion\":\"1.0\",\"configSnapshotId\":\"{snapshot_id}\",\"configurationItems\":["
    )?;
    for (i, r) in resources.iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        // Capture times spread over the hour before the snapshot, as AWS's recorder does.
        let capture = taken_at - SignedDuration::from_millis(rng.i64(1..3_600_000));
        serde_json::to_writer(&mut text, &item(r, account_id, region_name, capture))?;
    }
    text.extend_from_slice(b"]}");
    delivery.write(folder.join(name), &text)?;
    Ok(text.len() as u64)
}

/// A configuration item for `r` at its current revision, captured at `capture`.
fn item(r: &Resource, account: &str, region: &str, capture: Timestamp) -> Value {
    let good = |bit: u32| r.compliant_bits & (1 << bit) != 0 || r.compliant_bits.is_multiple_of(7);
    let short = format!("{:08x}{:09x}", r.serial.wrapping_mul(0x9E37_79B9), r.serial);
    let created =
        Timestamp::from_second(1_700_000_000 + (r.serial as i64 % 40_000_000)).expect("in range");
    let env = ["prod", "staging", "dev"][(r.serial % 3) as usize];
    let team = ["payments", "platform", "data", "identity", "web"][(r.serial % 5) as usize];
    let mut tags = json!({"Environment": env, "Team": team, "CostCenter": format!("cc-{}", 1000 + r.serial % 50)});
    if !good(7) {
        tags.as_object_mut().expect("object").remove("CostCenter");
    }
    if r.revision > 0 {
        tags["Revision"] = json!(r.revision.to_string());
    }
    let kind = KINDS[r.kind].0;
    let (id, name, arn, zone, relationships, configuration, supplementary) = match kind {
        "AWS::EC2::Volume" => {
            let id = format!("vol-{short}");
            let instance = format!("i-{:017x}", r.serial * 31);
            let attached = good(1);
            let config = json!({
                "volumeId": id, "size": 8 + (r.serial % 12) * 8 + r.revision as u64, "snapshotId": "",
                "availabilityZone": format!("{region}a"), "state": if attached { "in-use" } else { "available" },
                "createTime": created.to_string(),
                "attachments": if attached { json!([{"volumeId": id, "instanceId": instance, "device": "/dev/xvda",
                    "state": "attached", "attachTime": created.to_string(), "deleteOnTermination": good(2)}]) } else { json!([]) },
                "encrypted": good(0), "kmsKeyId": if good(0) { json!(format!("arn:aws:kms:{region}:{account}:key/{:08x}-1111-4222-8333-{:012x}", r.serial, r.serial)) } else { Value::Null },
                "tags": [{"key": "Environment", "value": env}], "volumeType": "gp3", "iops": 3000, "throughput": 125,
                "multiAttachEnabled": false, "fastRestored": false,
            });
            let rel = if attached {
                json!([{"resourceType": "AWS::EC2::Instance", "resourceId": instance, "name": "Is attached to Instance"}])
            } else {
                json!([])
            };
            (
                id.clone(),
                None,
                format!("arn:aws:ec2:{region}:{account}:volume/{id}"),
                format!("{region}a"),
                rel,
                config,
                json!({}),
            )
        }
        "AWS::EC2::Instance" => {
            let id = format!("i-{short}");
            let sg = format!("sg-{:017x}", r.serial * 7);
            let instance_type = ["t3.micro", "m6i.large", "c7g.xlarge"][(r.serial % 3) as usize];
            let config = json!({
                "amiLaunchIndex": 0, "imageId": format!("ami-{:017x}", r.serial % 9), "instanceId": id,
                "instanceType": instance_type,
                "keyName": format!("{team}-ops"), "launchTime": created.to_string(),
                "monitoring": {"state": if good(3) { "enabled" } else { "disabled" }},
                "placement": {"availabilityZone": format!("{region}b"), "groupName": "", "tenancy": "default"},
                "privateDnsName": format!("ip-10-0-{}-{}.ec2.internal", r.serial % 250, r.revision % 250),
                "privateIpAddress": format!("10.0.{}.{}", r.serial % 250, (r.serial / 250) % 250),
                "publicIpAddress": if good(4) { Value::Null } else { json!(format!("54.{}.{}.{}", r.serial % 200, r.revision, r.serial % 250)) },
                "state": {"code": 16, "name": "running"},
                "subnetId": format!("subnet-{:08x}", r.serial % 16), "vpcId": format!("vpc-{:08x}", r.account),
                "architecture": "x86_64", "ebsOptimized": true,
                "securityGroups": [{"groupName": format!("{team}-app"), "groupId": sg}],
                "metadataOptions": {"httpTokens": if good(5) { "required" } else { "optional" }, "httpEndpoint": "enabled"},
            });
            let rel = json!([{"resourceType": "AWS::EC2::SecurityGroup", "resourceId": sg, "name": "Is associated with SecurityGroup"},
                {"resourceType": "AWS::EC2::Subnet", "resourceId": format!("subnet-{:08x}", r.serial % 16), "name": "Is contained in Subnet"}]);
            (
                id.clone(),
                None,
                format!("arn:aws:ec2:{region}:{account}:instance/{id}"),
                format!("{region}b"),
                rel,
                config,
                json!({}),
            )
        }
        "AWS::EC2::SecurityGroup" => {
            let id = format!("sg-{short}");
            let open = if good(1) { "10.0.0.0/8" } else { "0.0.0.0/0" };
            let mut permissions = vec![json!({"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []})];
            permissions.push(json!({"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                "ipv4Ranges": [{"cidrIp": open}], "ipRanges": [open], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}));
            for extra in 0..r.revision.min(3) {
                permissions.push(json!({"ipProtocol": "tcp", "fromPort": 8080 + extra, "toPort": 8080 + extra,
                    "ipv4Ranges": [{"cidrIp": "10.1.0.0/16"}], "ipRanges": ["10.1.0.0/16"], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}));
            }
            let config = json!({
                "description": format!("{team} application servers"), "groupName": format!("{team}-app-{}", r.serial),
                "ownerId": account, "groupId": id, "vpcId": format!("vpc-{:08x}", r.account),
                "ipPermissions": permissions,
                "ipPermissionsEgress": [{"ipProtocol": "-1", "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"], "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": []}],
                "tags": [{"key": "Team", "value": team}],
            });
            let rel = json!([{"resourceType": "AWS::EC2::VPC", "resourceId": format!("vpc-{:08x}", r.account), "name": "Is contained in Vpc"}]);
            (
                id.clone(),
                Some(format!("{team}-app-{}", r.serial)),
                format!("arn:aws:ec2:{region}:{account}:security-group/{id}"),
                "Not Applicable".into(),
                rel,
                config,
                json!({}),
            )
        }
        "AWS::S3::Bucket" => {
            let id = format!("{team}-{env}-assets-{short}");
            let public = !good(2);
            let acl = json!({"grantSet": null, "grantList": if public {
                json!([{"grantee": "AllUsers", "permission": "Read"}]) } else { json!([]) },
                "owner": {"displayName": null, "id": format!("{:064x}", r.serial)}, "isRequesterCharged": false});
            let config = json!({"name": id, "owner": {"displayName": null, "id": format!("{:064x}", r.serial)}, "creationDate": created.to_string()});
            let supplementary = json!({
                "AccessControlList": acl.to_string(),
                "BucketLoggingConfiguration": {"destinationBucketName": if good(3) { json!(format!("{team}-logs")) } else { Value::Null }, "logFilePrefix": null},
                "BucketVersioningConfiguration": {"status": if good(0) { "Enabled" } else { "Off" }, "isMfaDeleteEnabled": null},
                "ServerSideEncryptionConfiguration": if good(1) { json!({"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyID": null}, "bucketKeyEnabled": true}]}) } else { Value::Null },
                "PublicAccessBlockConfiguration": {"blockPublicAcls": !public, "ignorePublicAcls": !public, "blockPublicPolicy": !public, "restrictPublicBuckets": !public},
                "BucketPolicy": {"policyText": if r.revision % 2 == 1 { json!(format!("{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::{id}/*\",\"Condition\":{{\"Bool\":{{\"aws:SecureTransport\":\"false\"}}}}}}]}}")) } else { Value::Null }},
                "IsRequesterPaysEnabled": false,
            });
            (
                id.clone(),
                Some(id.clone()),
                format!("arn:aws:s3:::{id}"),
                "Regional".into(),
                json!([]),
                config,
                supplementary,
            )
        }
        "AWS::RDS::DBInstance" => {
            let name = format!("{team}-{env}-db-{}", r.serial);
            let id = format!("db-{}", short.to_uppercase());
            let config = json!({
                "dBInstanceIdentifier": name, "dBInstanceClass": "db.r6g.large", "engine": "postgres", "engineVersion": format!("16.{}", 1 + r.revision % 4),
                "dBInstanceStatus": "available", "masterUsername": "postgres", "allocatedStorage": 100 + r.revision * 20,
                "instanceCreateTime": created.to_string(), "preferredBackupWindow": "03:00-04:00",
                "backupRetentionPeriod": if good(1) { 7 } else { 0 }, "multiAZ": good(3), "publiclyAccessible": !good(2),
                "storageEncrypted": good(0), "kmsKeyId": if good(0) { json!(format!("arn:aws:kms:{region}:{account}:key/{:08x}-aaaa-4bbb-8ccc-{:012x}", r.serial, r.serial)) } else { Value::Null },
                "dbiResourceId": id, "deletionProtection": good(4), "autoMinorVersionUpgrade": true,
                "vpcSecurityGroups": [{"vpcSecurityGroupId": format!("sg-{:017x}", r.serial * 7), "status": "active"}],
                "endpoint": {"address": format!("{name}.abcdefgh.{region}.rds.amazonaws.com"), "port": 5432},
            });
            let rel = json!([{"resourceType": "AWS::EC2::SecurityGroup", "resourceId": format!("sg-{:017x}", r.serial * 7), "name": "Is associated with SecurityGroup"}]);
            (
                id.clone(),
                Some(name.clone()),
                format!("arn:aws:rds:{region}:{account}:db:{name}"),
                format!("{region}c"),
                rel,
                config,
                json!({}),
            )
        }
        "AWS::IAM::User" => {
            let user = format!("{team}-svc-{}", r.serial);
            let id = format!("AIDA{}", short.to_uppercase());
            let mut policies = vec![
                json!({"policyName": "ReadOnlyAccess", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ];
            if !good(1) {
                policies.push(json!({"policyName": "AdministratorAccess", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}));
            }
            let config = json!({"path": "/", "userName": user, "userId": id, "arn": format!("arn:aws:iam::{account}:user/{user}"),
                "createDate": created.to_string(), "userPolicyList": [], "groupList": [format!("{team}-engineers")],
                "attachedManagedPolicies": policies, "permissionsBoundary": null,
                "tags": [{"key": "Team", "value": team}]});
            let rel = json!([{"resourceType": "AWS::IAM::Group", "resourceId": format!("AGPA{:016X}", r.serial % 5), "resourceName": format!("{team}-engineers"), "name": "Is attached to Group"}]);
            (
                id.clone(),
                Some(user.clone()),
                format!("arn:aws:iam::{account}:user/{user}"),
                "Not Applicable".into(),
                rel,
                config,
                json!({}),
            )
        }
        "AWS::CloudTrail::Trail" => {
            let name = format!("{team}-trail-{}", r.serial);
            let config = json!({"name": name, "s3BucketName": format!("{team}-cloudtrail-logs"), "includeGlobalServiceEvents": true,
                "isMultiRegionTrail": good(1), "homeRegion": region, "trailARN": format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}"),
                "logFileValidationEnabled": good(2), "hasCustomEventSelectors": r.revision > 0, "hasInsightSelectors": false, "isOrganizationTrail": false,
                "kmsKeyId": if good(0) { json!(format!("arn:aws:kms:{region}:{account}:key/{:08x}-cccc-4ddd-8eee-{:012x}", r.serial, r.serial)) } else { Value::Null }});
            let arn = format!("arn:aws:cloudtrail:{region}:{account}:trail/{name}");
            (
                arn.clone(),
                Some(name),
                arn,
                "Not Applicable".into(),
                json!([]),
                config,
                json!({"IsLogging": good(3) || !r.compliant_bits.is_multiple_of(3)}),
            )
        }
        _ => {
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                r.serial,
                r.serial % 0xffff,
                r.serial % 0xfff,
                r.account,
                r.serial * 13
            );
            let config = json!({"keyId": id, "arn": format!("arn:aws:kms:{region}:{account}:key/{id}"), "creationDate": created.as_millisecond(),
                "enabled": r.revision % 5 != 4, "description": format!("{team} data key"), "keyUsage": "ENCRYPT_DECRYPT",
                "keyState": if r.revision % 5 == 4 { "Disabled" } else { "Enabled" }, "origin": "AWS_KMS", "keyManager": "CUSTOMER",
                "customerMasterKeySpec": "SYMMETRIC_DEFAULT", "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
                "multiRegion": false});
            (
                id.clone(),
                None,
                format!("arn:aws:kms:{region}:{account}:key/{id}"),
                "Not Applicable".into(),
                json!([]),
                config,
                json!({"KeyRotationStatus": good(1)}),
            )
        }
    };
    json!({
        "relatedEvents": [],
        "relationships": relationships,
        "configuration": configuration,
        "supplementaryConfiguration": supplementary,
        "tags": tags,
        "configurationItemVersion": "1.3",
        "configurationItemCaptureTime": capture.to_string(),
        "configurationStateId": capture.as_millisecond(),
        "awsAccountId": account,
        "configurationItemStatus": if r.revision == 0 { "ResourceDiscovered" } else { "OK" },
        "resourceType": kind,
        "resourceId": id,
        "resourceName": name,
        "ARN": arn,
        "awsRegion": region,
        "availabilityZone": zone,
        "configurationStateMd5Hash": "",
        "resourceCreationTime": created.to_string(),
    })
}
