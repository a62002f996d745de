// The state every request carries (set by middleware/errors.ts and middleware/session.ts), and
// the Koa context typed with it. Types only.
import type { ParameterizedContext } from 'koa';
import type { Logger } from '@etu/common';
import type { Session } from './lib/session';

export interface GatewayState {
  requestId: string;
  log: Logger;
  session: Session;
}

export type Ctx = ParameterizedContext<GatewayState>;
