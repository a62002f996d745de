// Envoy's rate limit messages on the wire: bytes written by hand from Envoy's field numbers
// (envoy/service/ratelimit/v3/rls.proto, envoy/extensions/common/ratelimit/v3/ratelimit.proto,
// envoy/config/core/v3/base.proto) decode to what the limiter reads, and what it answers encodes
// to the bytes Envoy expects, so the copies under proto/envoy cannot drift from Envoy silently.
import { envoyRls } from '@etu/proto';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('a RateLimitRequest as Envoy sends it: domain 1, descriptors 2 (entries 1 {key 1, value 2}, hits_addend 3 as UInt64Value), hits_addend 3', () => {
  const bytes = Buffer.from(
    [
      '0a0165', // domain = "e"
      '1212', // descriptors, 18 bytes:
      '0a0a', //   entries, 10 bytes:
      '0a036b6579', //     key = "key"
      '1203766131', //     value = "va1"
      '1a00', //   hits_addend = UInt64Value{} (present, value 0: a check only)
      '1a020807', //   (a second hits_addend field: the last one wins) UInt64Value{value: 7}
      '1205', // descriptors, 5 bytes:
      '0a03', //   entries, 3 bytes:
      '0a0178', //     key = "x", no value
      '1805', // hits_addend = 5
    ].join(''),
    'hex',
  );
  expect(envoyRls.RateLimitRequest.decode(bytes)).toEqual({
    domain: 'e',
    descriptors: [
      { entries: [{ key: 'key', value: 'va1' }], hitsAddend: 7 },
      { entries: [{ key: 'x', value: '' }], hitsAddend: undefined },
    ],
    hitsAddend: 5,
  });
  // An empty UInt64Value is present and 0: the descriptor is only checked.
  expect(envoyRls.RateLimitRequest.decode(Buffer.from('12041a000a00', 'hex')).descriptors[0]!.hitsAddend).toBe(0);
});

test('a RateLimitResponse as Envoy reads it: overall_code 1, statuses 2 {code 1, current_limit 2 {requests_per_unit 1, unit 2, name 3}, limit_remaining 3, duration_until_reset 4}, response_headers_to_add 3 {key 1, value 2}', () => {
  const res: envoyRls.RateLimitResponse = {
    overallCode: envoyRls.RateLimitResponse_Code.OVER_LIMIT,
    statuses: [
      {
        code: envoyRls.RateLimitResponse_Code.OVER_LIMIT,
        currentLimit: { name: 'n', requestsPerUnit: 10, unit: envoyRls.RateLimitResponse_RateLimit_Unit.MINUTE },
        limitRemaining: 3,
        durationUntilReset: { seconds: 1, nanos: 500_000_000 },
      },
    ],
    responseHeadersToAdd: [{ key: 'a', value: 'b' }],
    requestHeadersToAdd: [],
  };
  // Fields in the order ts-proto writes them (the proto's declaration order; any order is valid).
  expect(hex(envoyRls.RateLimitResponse.encode(res).finish())).toBe(
    [
      '0802', // overall_code = OVER_LIMIT (2)
      '1217', // statuses, 23 bytes:
      '0802', //   code = OVER_LIMIT
      '1207', //   current_limit, 7 bytes:
      '1a016e', //     name (3) = "n"
      '080a', //     requests_per_unit (1) = 10
      '1002', //     unit (2) = MINUTE (2)
      '1803', //   limit_remaining = 3
      '2208', //   duration_until_reset, 8 bytes:
      '0801', //     seconds = 1
      '1080cab5ee01', //     nanos = 500,000,000
      '1a06', // response_headers_to_add, 6 bytes:
      '0a0161', //   key = "a"
      '120162', //   value = "b"
    ].join(''),
  );
});
