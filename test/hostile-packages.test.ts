// The hostile-input suite on npm, PyPI, Cargo, raw, Maven and the token API
// (test/helpers/hostile-packages-suite.ts), on local disk.
import { hostilePackagesSuite } from './helpers/hostile-packages-suite.js';
import { storageMode } from './helpers/storage-modes.js';

hostilePackagesSuite(await storageMode('local'));
