//! Every S3 XML reply the driver reads, and the error-reply mapping: any bytes
//! give a value or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s3_storage_driver::s3::error::from_reply;
use s3_storage_driver::s3::xml::{
    self, CompleteMultipartUploadResult, CopyResult, DeleteResult, InitiateMultipartUploadResult,
    ListBucketResult, ListMultipartUploadsResult, ListPartsResult,
};

fuzz_target!(|body: &[u8]| {
    let _ = xml::root_name(body);
    let _ = xml::parse_error(body);
    let _ = xml::parse::<ListBucketResult>(body, "ListBucketResult", "fuzz");
    let _ = xml::parse::<ListMultipartUploadsResult>(body, "ListMultipartUploadsResult", "fuzz");
    let _ = xml::parse::<ListPartsResult>(body, "ListPartsResult", "fuzz");
    let _ =
        xml::parse::<InitiateMultipartUploadResult>(body, "InitiateMultipartUploadResult", "fuzz");
    let _ =
        xml::parse::<CompleteMultipartUploadResult>(body, "CompleteMultipartUploadResult", "fuzz");
    let _ = xml::parse::<CopyResult>(body, "CopyObjectResult", "fuzz");
    let _ = xml::parse::<DeleteResult>(body, "DeleteResult", "fuzz");
    for status in [400, 403, 404, 409, 500, 503] {
        let _ = from_reply("fuzz", "bucket", status, Some("id"), body).to_string();
    }
});
