// The hostile-input suite on npm, PyPI, Cargo, raw, Maven and the token API
// (test/helpers/hostile-packages-suite.ts), on S3: the shared Ceph RADOS Gateway,
// a fresh bucket per format (skips, saying why, without it). A file of its own
// so tap's two jobs run it beside the local one.
import { hostilePackagesSuite } from './helpers/hostile-packages-suite.js';
import { storageMode } from './helpers/storage-modes.js';

hostilePackagesSuite(await storageMode('s3'));
