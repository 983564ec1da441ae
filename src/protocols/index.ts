// Every format the registry serves, in routing order.
import type { Context, Protocol } from '../main/protocol.js';
import { tokenApiProtocol } from '../main/auth/token-api.js';
import { dockerProtocol } from './docker/index.js';
import { npmProtocol } from './npm/index.js';
import { pypiProtocol } from './pypi/index.js';
import { cargoProtocol } from './cargo/index.js';
import { rawProtocol } from './raw/index.js';
import { mavenProtocol } from './maven/index.js';

export const protocolFactories: ((ctx: Context) => Promise<Protocol> | Protocol)[] = [tokenApiProtocol, dockerProtocol, npmProtocol, pypiProtocol, cargoProtocol, rawProtocol, mavenProtocol];
