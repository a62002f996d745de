// The limiter's client for the gateway: Consume calls made in the same turn of the event loop
// go to the server as ONE batch (one script call in Redis there): by default a message of one
// long-lived ConsumeStream carrying each call's request id, traceparent and deadline; with
// `stream: false` one ConsumeBatch RPC, a lone call as a plain Consume. Every call keeps its own
// semantics: its own decision or its own error (the same grpc.ServiceError shape, `code` and
// `details`, a unary call would give) and its own deadline. Consume is never retried: a call
// whose deadline passes rejects with DEADLINE_EXCEEDED, and its batch is not sent again (the
// server may still have counted it, exactly as with a unary call that timed out). The one batch
// sent again is one the limiter provably never decided (its stream ended with OK unanswered:
// the limiter shutting down).
import * as grpc from '@grpc/grpc-js';
import {
  bearer,
  createServiceClient,
  grpcCallMetrics,
  grpcCodeName,
  Metrics,
  secondsSince,
  setContextMetadata,
  startSpan,
  tracingEnabled,
  type OpenSpan,
  type RequestContext,
} from '@etu/common';
import { limiter } from '@etu/proto';

export type Decision = limiter.Decision;

export interface LimiterClientOptions {
  /** The internal token (sent as `authorization: Bearer <token>`). */
  token: string;
  /** Default deadline of each call, ms from the call (default 1000). */
  timeoutMs?: number;
  /** Most Consume calls per ConsumeBatch RPC (default 256, at most 1000); more go in several RPCs. */
  maxBatch?: number;
  /**
   * Batches in flight at once (default DEFAULT_BATCH_WINDOW, at most 64): calls made while the window is full wait
   * for a batch to come back and leave together. Above 1, the waiting calls are spread over the
   * free slots, so that the client, the limiter and Redis work on different batches at once.
   */
  window?: number;
  /**
   * Send the batches over one long-lived ConsumeStream per client (LimiterStreamService) instead of
   * one ConsumeBatch RPC each (default DEFAULT_BATCH_STREAM): a batch then costs a message, not a call, on both
   * sides. Same semantics per call; a stream that breaks fails the batches it had not answered.
   */
  stream?: boolean;
  /** A stream takes new batches for this long (ms, default STREAM_ROTATE_MS), then the next batch opens a new one. */
  streamRotateMs?: number;
  /** Extra channel options (and `interceptors`) for the underlying grpc-js client. */
  channelOptions?: Partial<grpc.ClientOptions>;
  /** Where the grpc_client_* families go (createServiceClient). */
  metrics?: Metrics;
}

export interface LimiterCallOptions {
  /** This call's deadline, ms from now (overrides the client's default). */
  timeoutMs?: number;
  /** The request this call serves: its id and traceparent go in the metadata. */
  context?: RequestContext;
}

/**
 * Batches in flight at once when the caller does not say. 4 with the stream: at 64 calls in flight
 * the limiter then reached 63 % of the Redis ceiling, p99 2.4 ms (bench/README.md, "Findings";
 * docs/architecture.md, "The batch stream").
 */
export const DEFAULT_BATCH_WINDOW = 4;

/** Batches over one ConsumeStream when the caller does not say (docs/architecture.md, "The batch stream"). */
export const DEFAULT_BATCH_STREAM = true;

/**
 * How long one ConsumeStream takes new batches; the next batch then opens a new stream, and the
 * old one is half-closed: the limiter answers what it received and ends it with OK. A server asks
 * its clients to reconnect after CONNECTION_AGE_MS (@etu/common) and cuts the old connection
 * CONNECTION_AGE_GRACE_MS (5 s) later: a stream kept longer than that grace was cut with its
 * batches in flight, which failed UNAVAILABLE (503s every 35 s under load, issue 16). 2 s is well
 * within the grace; a new stream also goes to whichever limiter replica the channel picks.
 */
export const STREAM_ROTATE_MS = 2000;

const STREAM_SERVICE = 'etuservices.limiter.v1.LimiterStreamService';
const STREAM_METHOD = 'ConsumeStream';
const STREAM_SPAN_ATTRIBUTES = { 'rpc.system': 'grpc', 'rpc.service': STREAM_SERVICE, 'rpc.method': STREAM_METHOD };

/** Request ids named in a batch's metadata at most; the rest are counted ("+N"). */
const MAX_BATCH_IDS = 32;

export interface LimiterClient {
  /** Counts `cost` (default 1) events if they fit; resolves with the decision either way. */
  consume(policy: string, subject: string, cost?: number, opts?: LimiterCallOptions): Promise<Decision>;
  /** The decision a Consume of cost 1 would get now; counts nothing. */
  peek(policy: string, subject: string, opts?: LimiterCallOptions): Promise<Decision>;
  /** Forgets the subject's counted events for the policy. */
  reset(policy: string, subject: string, opts?: LimiterCallOptions): Promise<void>;
  close(): void;
}

/** An error shaped like the one grpc-js gives for a failed unary call. */
/** A status code read off the wire (a batch item's error); a number grpc-js does not know becomes UNKNOWN. */
function wireStatus(code: number): grpc.status {
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- checked against the enum on this line
  return code in grpc.status ? code : grpc.status.UNKNOWN;
}

export function statusError(code: grpc.status, details: string): grpc.ServiceError {
  const err = new Error(`${code} ${grpc.status[code]}: ${details}`) as grpc.ServiceError;
  err.code = code;
  err.details = details;
  err.metadata = new grpc.Metadata();
  return err;
}

interface Pending {
  req: limiter.ConsumeRequest;
  /** Absolute deadline, ms since the epoch. */
  deadline: number;
  done: boolean;
  /** Handed to gRPC: from then on the limiter may have counted it. */
  sent: boolean;
  context: RequestContext | undefined;
  /** Over the stream with traces on: this call's client span (a unary call's is the interceptor's). */
  span?: OpenSpan | undefined;
  timer?: NodeJS.Timeout;
  resolve(d: Decision): void;
  reject(e: grpc.ServiceError): void;
}

function settle(p: Pending, err: grpc.ServiceError | null, d?: Decision): void {
  if (p.done) return;
  p.done = true;
  if (p.timer) clearTimeout(p.timer);
  p.span?.end({ 'rpc.grpc.status_code': err ? err.code : 0 }, err ? `${grpcCodeName(err.code)}: ${err.details}` : undefined);
  if (err) p.reject(err);
  else if (d) p.resolve(d);
  else p.reject(statusError(grpc.status.INTERNAL, 'limiter answered without a decision'));
}

export function createLimiterClient(addr: string, opts: LimiterClientOptions): LimiterClient {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 256, 1000));
  const window = Math.max(1, Math.min(opts.window ?? DEFAULT_BATCH_WINDOW, 64));
  const sc = createServiceClient(limiter.LimiterServiceClient, addr, {
    token: opts.token,
    timeoutMs,
    channelOptions: opts.channelOptions,
    metrics: opts.metrics,
  });
  const raw = sc.raw;
  // the stream client shares the unary client's channel: one connection, one reconnect wait
  const streamRaw =
    (opts.stream ?? DEFAULT_BATCH_STREAM)
      ? new limiter.LimiterStreamServiceClient(addr, grpc.credentials.createInsecure(), {
          ...opts.channelOptions,
          channelOverride: raw.getChannel(),
        })
      : undefined;
  const auth = bearer(opts.token);
  let queue: Pending[] = [];
  let scheduled = false;
  let closed = false;
  /** Batches sent (or waiting for the connection) and not answered yet. */
  let inFlight = 0;
  /**
   * The open ConsumeStream (stream: true): its batches waiting for an answer, by id. `resend`
   * puts a batch the limiter provably never decided (its stream ended with OK unanswered) back in
   * the queue.
   */
  type Answer = { answer(err: grpc.ServiceError | null, items?: limiter.ConsumeBatchItem[]): void; resend(): void };
  /** grpc_client_* for the streamed batches, one per batch (the interceptor sees only the stream). */
  const recordBatch = grpcCallMetrics(opts.metrics ?? new Metrics({ enabled: false }), 'client').forMethod(
    STREAM_SERVICE,
    STREAM_METHOD,
    'bidi_stream',
  );
  interface OpenStream {
    call: grpc.ClientDuplexStream<limiter.ConsumeStreamRequest, limiter.ConsumeStreamResponse>;
    waiting: Map<number, Answer>;
    /** When it was opened (Date.now()): it takes new batches for streamRotateMs. */
    opened: number;
    /** The client ended its side (no more batches): the limiter answers the rest, then ends it. */
    halfClosed: boolean;
  }
  let current: OpenStream | undefined;
  const rotateMs = opts.streamRotateMs ?? STREAM_ROTATE_MS;
  /** No new batch goes to `st`; its side is ended, so the limiter answers what it has and ends it with OK. */
  const retire = (st: OpenStream) => {
    if (current === st) current = undefined;
    if (st.halfClosed) return;
    st.halfClosed = true;
    st.call.end();
  };
  let lastId = 0;

  const metadata = (context?: RequestContext) => {
    const md = sc.metadata();
    md.set('authorization', auth);
    setContextMetadata(md, context);
    return md;
  };

  /**
   * A batch serves several requests: its x-request-id lists theirs (comma-separated, at most
   * MAX_BATCH_IDS), so that the limiter's line for the batch is found by any of them; its
   * traceparent is the first one's.
   */
  const batchMetadata = (batch: Pending[]) => {
    const md = metadata();
    const ids = [...new Set(batch.map((p) => p.context?.requestId).filter((id): id is string => id !== undefined))];
    if (ids.length > 0) {
      const named = ids.slice(0, MAX_BATCH_IDS).join(',');
      md.set('x-request-id', ids.length > MAX_BATCH_IDS ? `${named},+${ids.length - MAX_BATCH_IDS}` : named);
    }
    const first = batch.find((p) => p.context)?.context;
    if (first) md.set('traceparent', first.traceparent);
    return md;
  };

  /**
   * Waits (sc.ready) while the limiter restarts, then sends. Nothing leaves before that, so the
   * wait can never count a Consume twice; a call whose deadline passes meanwhile fails with
   * DEADLINE_EXCEEDED (its timer, set when it was made) and is never sent. `release` frees the
   * batch's place in the window once its RPC has ended (or nothing was left to send).
   */
  const send = (batch: Pending[], release: () => void) => {
    void sc.ready(Math.max(...batch.map((p) => p.deadline))).then(() => transmit(batch, release));
  };

  const transmit = (batch: Pending[], release: () => void) => {
    const live = batch.filter((p) => !p.done);
    if (live.length === 0) {
      release();
      return;
    }
    for (const p of live) p.sent = true;
    if (streamRaw) {
      transmitStream(streamRaw, live, Math.max(...live.map((p) => p.deadline)), release);
      return;
    }
    // The RPC lives as long as its longest call; shorter calls end on their own timer.
    const rpcDeadline = new Date(Math.max(...live.map((p) => p.deadline)));
    if (live.length === 1) {
      const p = live[0]!;
      raw.consume(p.req, metadata(p.context), { deadline: rpcDeadline }, (err, res: limiter.ConsumeResponse | undefined) => {
        release();
        if (!err) sc.succeeded();
        settle(p, err, res?.decision);
      });
      return;
    }
    raw.consumeBatch({ requests: live.map((p) => p.req) }, batchMetadata(live), { deadline: rpcDeadline }, (err, res) => {
      release();
      answer(live, err, err ? undefined : res.items);
    });
  };

  /** Each call of a batch gets its item of the answer, by position, or the batch's error. */
  const answer = (live: Pending[], err: grpc.ServiceError | null, items: limiter.ConsumeBatchItem[] | undefined) => {
    if (err || !items) {
      for (const p of live) settle(p, err ?? statusError(grpc.status.INTERNAL, 'limiter answered without items'));
      return;
    }
    sc.succeeded();
    if (items.length !== live.length) {
      const e = statusError(grpc.status.INTERNAL, `limiter answered ${items.length} items for ${live.length}`);
      for (const p of live) settle(p, e);
      return;
    }
    live.forEach((p, i) => {
      const item = items[i]!;
      if (item.error) settle(p, statusError(wireStatus(item.error.code), item.error.message));
      else settle(p, null, item.decision);
    });
  };

  /**
   * The open stream, or a new one. When it ends, its unanswered batches are settled once every
   * answer it carried has been read: after an error status (the limiter killed, the connection
   * lost) they fail with it and are never sent again — they may have been counted; after an OK
   * status (the limiter shutting down: it ends its streams once every batch it decided is
   * answered) they were never decided, and go back to the queue for a new stream.
   */
  const openStream = (s: limiter.LimiterStreamServiceClient) => {
    if (current && Date.now() - current.opened < rotateMs) return current;
    if (current) retire(current);
    const call = s.consumeStream(metadata());
    const st: OpenStream = { call, waiting: new Map<number, Answer>(), opened: Date.now(), halfClosed: false };
    let failure: grpc.ServiceError | undefined;
    /** The stream's status said OK: whatever is still unanswered was never decided. */
    let endedOk = false;
    let concluded = false;
    const conclude = () => {
      if (current === st) current = undefined;
      if (concluded) return;
      concluded = true;
      const w = [...st.waiting.values()];
      st.waiting.clear();
      const err = failure ?? statusError(grpc.status.UNAVAILABLE, 'the limiter stream ended before answering');
      for (const a of w) {
        if (endedOk) a.resend();
        else a.answer(err);
      }
    };
    call.on('data', (res: limiter.ConsumeStreamResponse) => {
      const a = st.waiting.get(res.id);
      if (!a) return; // its deadline passed: its calls were already told
      st.waiting.delete(res.id);
      a.answer(null, res.items);
    });
    call.on('error', (err: grpc.ServiceError) => {
      failure = err;
      // no new batch goes to a failed stream; the waiting ones are told at 'end', after the answers already received
      if (current === st) current = undefined;
    });
    // grpc-js emits 'status' (and 'error' unless OK) as the status arrives, 'end' once the answers before it were read
    call.on('status', (status: grpc.StatusObject) => {
      endedOk = status.code === grpc.status.OK;
      if (current === st) current = undefined;
    });
    call.on('end', () => {
      conclude();
      retire(st);
    });
    // closed without an end (destroyed): nothing is known of the unanswered batches, so they fail
    call.on('close', () => {
      if (concluded) return;
      endedOk = false;
      conclude();
    });
    current = st;
    return st;
  };

  /** What a unary Consume carries in its metadata, per call of a streamed batch. */
  const streamCalls = (live: Pending[]): limiter.ConsumeStreamCall[] => {
    const now = Date.now();
    return live.map((p) => ({
      requestId: p.context?.requestId ?? '',
      traceparent: p.span?.traceparent ?? p.context?.traceparent ?? '',
      timeoutMs: Math.max(1, Math.ceil(p.deadline - now)),
    }));
  };

  /** One batch as one ConsumeStream message; its place in the window frees with the answer or its deadline. */
  const transmitStream = (s: limiter.LimiterStreamServiceClient, live: Pending[], rpcDeadline: number, release: () => void) => {
    const st = openStream(s);
    lastId = (lastId + 1) % 0x1_0000_0000;
    const id = lastId;
    const started = performance.now();
    const timer = setTimeout(() => {
      if (!st.waiting.delete(id)) return;
      recordBatch(grpc.status.DEADLINE_EXCEEDED, secondsSince(started));
      release();
      for (const p of live) settle(p, statusError(grpc.status.DEADLINE_EXCEEDED, 'deadline exceeded'));
    }, rpcDeadline - Date.now());
    st.waiting.set(id, {
      answer: (err, items) => {
        clearTimeout(timer);
        recordBatch(err ? err.code : grpc.status.OK, secondsSince(started));
        release();
        answer(live, err, items);
      },
      resend: () => {
        clearTimeout(timer);
        const again = live.filter((p) => !p.done);
        for (const p of again) p.sent = false;
        if (closed) for (const p of again) settle(p, statusError(grpc.status.CANCELLED, 'limiter client closed'));
        else queue.unshift(...again);
        release();
      },
    });
    st.call.write({ id, requests: live.map((p) => p.req), calls: streamCalls(live) });
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  const release = () => {
    inFlight--;
    if (queue.length > 0) schedule();
  };

  /** Sends what waits, in as many batches as the window has free places (each ≤ maxBatch). */
  const flush = () => {
    scheduled = false;
    queue = queue.filter((p) => !p.done);
    while (queue.length > 0 && inFlight < window) {
      const size = Math.min(maxBatch, Math.ceil(queue.length / (window - inFlight)));
      inFlight++;
      send(queue.splice(0, size), release);
    }
  };

  return {
    consume(policy, subject, cost, o) {
      return new Promise<Decision>((resolve, reject) => {
        if (closed) {
          reject(statusError(grpc.status.CANCELLED, 'limiter client closed'));
          return;
        }
        const req: limiter.ConsumeRequest = cost === undefined ? { policy, subject } : { policy, subject, cost };
        const ms = o?.timeoutMs ?? timeoutMs;
        const p: Pending = { req, deadline: Date.now() + ms, done: false, sent: false, context: o?.context, resolve, reject };
        // traces on, over the stream: this call's client span starts now, under the caller's current span, as a unary call's would
        if (streamRaw && tracingEnabled())
          p.span = startSpan(`${STREAM_SERVICE}/${STREAM_METHOD}`, { kind: 'client', attributes: STREAM_SPAN_ATTRIBUTES });
        p.timer = setTimeout(
          () =>
            settle(
              p,
              statusError(grpc.status.DEADLINE_EXCEEDED, p.sent ? 'deadline exceeded' : 'deadline exceeded before the call was sent'),
            ),
          ms,
        );
        queue.push(p);
        if (queue.length >= maxBatch * Math.max(1, window - inFlight)) flush();
        else schedule();
      });
    },
    peek(policy, subject, o) {
      return new Promise<Decision>((resolve, reject) => {
        const deadline = new Date(Date.now() + (o?.timeoutMs ?? timeoutMs));
        void sc.ready(deadline.getTime()).then(() =>
          raw.peek({ policy, subject }, metadata(o?.context), { deadline }, (err, res) => {
            if (err) {
              reject(err);
              return;
            }
            sc.succeeded();
            if (!res.decision) reject(statusError(grpc.status.INTERNAL, 'limiter answered without a decision'));
            else resolve(res.decision);
          }),
        );
      });
    },
    reset(policy, subject, o) {
      return new Promise<void>((resolve, reject) => {
        const deadline = new Date(Date.now() + (o?.timeoutMs ?? timeoutMs));
        void sc.ready(deadline.getTime()).then(() =>
          raw.reset({ policy, subject }, metadata(o?.context), { deadline }, (err) => {
            if (err) {
              reject(err);
              return;
            }
            sc.succeeded();
            resolve();
          }),
        );
      });
    },
    close() {
      closed = true;
      const q = queue;
      queue = [];
      for (const p of q) settle(p, statusError(grpc.status.CANCELLED, 'limiter client closed'));
      if (current) retire(current);
      sc.close();
    },
  };
}
