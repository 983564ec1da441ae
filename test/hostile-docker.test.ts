// The hostile-input suite on /v2/ (test/helpers/hostile-docker-suite.ts), on local disk.
import { hostileDockerSuite } from './helpers/hostile-docker-suite.js';
import { storageMode } from './helpers/storage-modes.js';

hostileDockerSuite(await storageMode('local'));
