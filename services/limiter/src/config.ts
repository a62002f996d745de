// The limiter's configuration, parsed once at start. A malformed LIMIT_POLICIES stops the
// process with a message naming it (loadOrExit).
import { z } from 'zod';
import { localAddress, localStore, baseServiceShape, parseConfig, vars, type Env } from '@etu/common';
import { DEFAULT_POLICIES, parsePolicies, PolicySyntaxError } from './policies';

export const configShape = {
  ...baseServiceShape(),
  LIMITER_ADDR: vars.addr(localAddress('limiter')),
  METRICS_PORT: vars.metricsPort('limiter'),
  LIMITER_REDIS_URL: vars.redisUrl(localStore('LIMITER_REDIS_URL')),
  /** `name=limit/window,...`, window units ms, s, m, h. Kept as text; validated here. */
  LIMIT_POLICIES: z
    .string()
    .default(DEFAULT_POLICIES)
    .superRefine((v, ctx) => {
      try {
        parsePolicies(v);
      } catch (err) {
        if (!(err instanceof PolicySyntaxError)) throw err;
        ctx.addIssue({ code: 'custom', message: err.message });
      }
    }),
  /**
   * A directory of envoyproxy/ratelimit YAML files (README.md, "Envoy"): set, the limiter also
   * serves Envoy's envoy.service.ratelimit.v3.RateLimitService on LIMITER_ADDR. Unset: not served.
   */
  LIMITER_ENVOY_CONFIG_DIR: z.string().min(1).optional(),
  /** Envoy's responses carry the IETF RateLimit-Policy/RateLimit headers (response_headers_to_add). */
  LIMITER_ENVOY_RATELIMIT_HEADERS: vars.bool(false),
  /**
   * host:port of a second listener serving only Envoy's RateLimitService WITHOUT the internal
   * token, for a proxy on a trusted network. Unset (the default): none.
   */
  LIMITER_ENVOY_TRUSTED_ADDR: z
    .string()
    .regex(/^[^\s:]*:\d{1,5}$/, 'expected host:port, e.g. 10.0.0.5:50063')
    .optional(),
};

export type LimiterConfig = z.output<z.ZodObject<typeof configShape>>;

export function loadConfig(env: Env = process.env): LimiterConfig {
  return parseConfig(configShape, env);
}
