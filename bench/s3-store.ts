// The object store of the S3 scenarios: the shared Ceph RADOS Gateway that
// .ci/services/ceph.sh starts (it leaves its endpoint and keys in an env file).
// Each measurement gets a fresh bucket, emptied and removed afterwards. The
// test suite's helper (test/helpers/ceph.ts) reads the same file through this.
import { readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

export interface CephS3 {
  url: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** An S3 server and one bucket on it. */
export interface S3Target extends CephS3 {
  bucket: string;
  /** blob GETs answered with a 307 to a presigned URL (nora-ts storage.s3_redirect, distribution's default) */
  redirect?: boolean;
}

export const CEPH_ENV_FILE = `${process.env.CEPH_TEST_DIR ?? '/tmp/nora-ts-ceph'}/env`;
export const CEPH_START = 'bash .ci/services/ceph.sh start';

/** The running gateway, or null when the service script has not been started (or it is down). */
export async function cephS3(): Promise<CephS3 | null> {
  let text: string;
  try {
    text = await readFile(CEPH_ENV_FILE, 'utf8');
  } catch {
    return null;
  }
  const v = Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const s3: CephS3 = { url: v.CEPH_S3_URL!, accessKey: v.CEPH_S3_ACCESS_KEY!, secretKey: v.CEPH_S3_SECRET_KEY!, region: v.CEPH_S3_REGION ?? 'us-east-1' };
  try {
    await fetch(s3.url, { signal: AbortSignal.timeout(15_000) }); // a stopped gateway refuses at once; a busy one may be slow
  } catch {
    return null;
  }
  return s3;
}

export function adminClient(s3: CephS3): S3Client {
  return new S3Client({
    endpoint: s3.url,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
  });
}

/** Creates an empty bucket; `remove` deletes everything in it (unfinished uploads too), then the bucket. */
export async function createBucket(s3: CephS3, label: string): Promise<{ bucket: string; remove(): Promise<void> }> {
  const client = adminClient(s3);
  const bucket = `nora-${label}-${randomBytes(4).toString('hex')}`.toLowerCase().slice(0, 63);
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    async remove() {
      await emptyBucket(client, bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

async function emptyBucket(client: S3Client, bucket: string): Promise<void> {
  for (let token: string | undefined; ; ) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  for (const u of ups.Uploads ?? []) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }));
}
