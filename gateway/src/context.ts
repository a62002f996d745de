// The state every request carries (set by middleware/errors.ts and middleware/session.ts), and
// the Koa context typed with it. Types only.
import type { ParameterizedContext } from 'koa';
import type { Logger, RequestContext } from '@etu/common';
import type { Session } from './lib/session';

export interface GatewayState {
  requestId: string;
  /** The request id and W3C traceparent every gRPC call of this request carries (callOpts). */
  trace: RequestContext;
  log: Logger;
  session: Session;
}

export type Ctx = ParameterizedContext<GatewayState>;
