// Every format the registry serves, in routing order.
import type { Context, Protocol } from '../main/protocol.js';
import { tokenApiProtocol } from '../main/auth/token-api.js';
import { dockerProtocol } from './docker/index.js';
import { npmProtocol } from './npm/index.js';
import { pypiProtocol } from './pypi/index.js';
import { cargoProtocol } from './cargo/index.js';
import { rawProtocol } from './raw/index.js';
import { mavenProtocol } from './maven/index.js';
import { uiProtocol } from './ui/index.js';

/** Each factory gets the shared services and the registry's protocol list (the web UI finds the formats' pages there). */
export const protocolFactories: ((ctx: Context, protocols: readonly Protocol[]) => Promise<Protocol> | Protocol)[] = [
  tokenApiProtocol,
  dockerProtocol,
  npmProtocol,
  pypiProtocol,
  cargoProtocol,
  rawProtocol,
  mavenProtocol,
  uiProtocol,
];
