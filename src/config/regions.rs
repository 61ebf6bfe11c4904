//! The AWS regions of every partition: without `regionendpoint` the
//! reference refuses any other `region` at start ("invalid region
//! provided"), as its SDK's partition table does; so do we, rather than
//! failing later with a connection error to a host that does not exist.

/// Region names by partition (aws, aws-cn, aws-us-gov, the ISO partitions
/// and the European Sovereign Cloud), as the AWS SDKs list them.
pub const AWS_REGIONS: &[&str] = &[
    // aws
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    // aws-cn
    "cn-north-1",
    "cn-northwest-1",
    // aws-us-gov
    "us-gov-east-1",
    "us-gov-west-1",
    // aws-iso, aws-iso-b, aws-iso-e, aws-iso-f
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
    // aws-eusc
    "eusc-de-east-1",
];

/// True for a region of some AWS partition.
pub fn is_aws_region(region: &str) -> bool {
    AWS_REGIONS.contains(&region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_has_its_regions_and_made_up_names_are_not_regions() {
        for r in [
            "us-east-1",
            "eu-central-1",
            "cn-north-1",
            "us-gov-west-1",
            "us-isob-east-1",
        ] {
            assert!(is_aws_region(r), "{r}");
        }
        for r in [
            "moon-1",
            "us-moon-1",
            "US-EAST-1",
            "us-east-1 ",
            "",
            "eu-central-9",
        ] {
            assert!(!is_aws_region(r), "{r:?}");
        }
    }
}
