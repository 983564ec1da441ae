// The hostile-input suite on /v2/ (test/helpers/hostile-docker-suite.ts), on S3:
// the shared Ceph RADOS Gateway, a fresh bucket (skips, saying why, without it).
// A file of its own so tap's two jobs run it beside the local one.
import { hostileDockerSuite } from './helpers/hostile-docker-suite.js';
import { storageMode } from './helpers/storage-modes.js';

hostileDockerSuite(await storageMode('s3'));
