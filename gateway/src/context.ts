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
  /** The files of a multipart form (middleware/multipart.ts); absent for other bodies. */
  uploads?: Uploads;
}

/** A file of a multipart form (middleware/multipart.ts). */
export interface UploadedFile {
  field: string;
  bytes: Buffer;
  /** Longer than PHOTO_BYTES_MAX: the bytes kept are only the start. */
  truncated: boolean;
}

export interface Uploads {
  files: UploadedFile[];
  /** More than PHOTOS_MAX files were sent (the extra ones were dropped unread). */
  tooMany: boolean;
}

export type Ctx = ParameterizedContext<GatewayState>;
