// Every scenario, in the order they run and print.
import type { Scenario } from '../scenario.js';
import { manifestAuth, manifestNoAuth, manifestToken } from './manifest-get.js';
import { parallelPulls, hundredPulls } from './blob-pulls.js';
import { coldAuthStorm } from './auth-storm.js';
import { bigPush, parallelPush } from './push.js';
import { startup } from './startup.js';
import { npmPackument, npmTarball } from './npm-reads.js';
import { tlsReads } from './tls.js';
import { uiPages } from './ui-pages.js';
import { proxyColdPulls } from './proxy-pulls.js';
import { s3Scenarios } from './s3.js';

export const SCENARIOS: Scenario[] = [
  manifestAuth,
  manifestNoAuth,
  parallelPulls,
  hundredPulls,
  coldAuthStorm,
  bigPush,
  parallelPush,
  manifestToken,
  startup,
  npmPackument,
  npmTarball,
  tlsReads,
  uiPages,
  proxyColdPulls,
  ...s3Scenarios,
];
