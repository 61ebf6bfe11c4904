# Records radosgw's raw XML replies as seeds for the xml_replies fuzz target.
import boto3, botocore, os, sys
out = sys.argv[1]
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:7480", region_name="us-east-1",
    aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
    aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    config=botocore.config.Config(s3={"addressing_style": "path"}))
n = [0]
def record(http_response, model, **kw):
    body = http_response.content
    if body and body.lstrip().startswith(b"<"):
        n[0] += 1
        with open(os.path.join(out, f"radosgw-{n[0]:02d}-{model.name}.xml"), "wb") as f:
            f.write(body)
s3.meta.events.register("after-call", lambda **kw: record(**kw))
b = "corpus"
try: s3.create_bucket(Bucket=b)
except Exception: pass
for k in ["a/1", "a/2", "b/c/3", "d"]:
    s3.put_object(Bucket=b, Key=k, Body=b"x"*10)
s3.list_objects_v2(Bucket=b)
s3.list_objects_v2(Bucket=b, Delimiter="/", Prefix="a/", MaxKeys=1)
u = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
e1 = s3.upload_part(Bucket=b, Key="mp", UploadId=u, PartNumber=1, Body=b"y"*(5<<20))["ETag"]
e2 = s3.upload_part_copy(Bucket=b, Key="mp", UploadId=u, PartNumber=2, CopySource={"Bucket": b, "Key": "d"})["CopyPartResult"]["ETag"]
s3.list_multipart_uploads(Bucket=b)
s3.list_parts(Bucket=b, Key="mp", UploadId=u, MaxParts=1)
s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=u, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
s3.copy_object(Bucket=b, Key="d2", CopySource={"Bucket": b, "Key": "d"})
s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a/1"}, {"Key": "nope"}]})
for f in [lambda: s3.get_object(Bucket=b, Key="missing"), lambda: s3.list_parts(Bucket=b, Key="mp", UploadId="nope"),
          lambda: s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId="nope", MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})]:
    try: f()
    except Exception: pass
bad = boto3.client("s3", endpoint_url="http://127.0.0.1:7480", region_name="us-east-1",
    aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="wrong",
    config=botocore.config.Config(s3={"addressing_style": "path"}))
bad.meta.events.register("after-call", lambda **kw: record(**kw))
try: bad.list_objects_v2(Bucket=b)
except Exception: pass
for k in ["a/2", "b/c/3", "d", "d2", "mp"]:
    s3.delete_object(Bucket=b, Key=k)
print(n[0], "replies")
