// Every message of the four contracts survives encode → decode with every field set, and the
// services' definitions expose every RPC of DESIGN.md.
import { auth, limiter, market, stats } from '@etu/proto';

interface Codec<T> {
  encode(m: T): { finish(): Uint8Array };
  decode(b: Uint8Array): T;
  fromPartial(o: unknown): T;
}

function roundTrip<T>(codec: Codec<T>, value: T): void {
  const bytes = codec.encode(value).finish();
  expect(codec.decode(bytes)).toEqual(value);
}

const at = new Date('2026-11-26T09:15:30.123Z');
const user: auth.User = {
  id: '42',
  lastName: 'Martin',
  firstName: 'Camille',
  email: 'camille@etu.example',
  role: auth.Role.ROLE_ADMIN,
  createdAt: at,
};
const listing: market.Listing = {
  id: '7',
  sellerId: '42',
  title: 'Le Petit Prince <b>"édition"</b> 📚',
  category: market.Category.CATEGORY_BOOK,
  priceCents: 1250,
  description: 'Très bon état',
  status: market.ListingStatus.LISTING_STATUS_SOLD,
  buyerId: '43',
  createdAt: at,
  soldAt: new Date(at.getTime() + 60_000),
  condition: market.Condition.CONDITION_VERY_GOOD,
  photos: ['0123456789abcdef0123456789abcdef', 'fedcba9876543210fedcba9876543210'],
  version: 3,
};
const decision: limiter.Decision = {
  allowed: false,
  limit: 10,
  remaining: 0,
  retryAfterMs: 241_337,
  resetAfterMs: 599_999,
  windowMs: 600_000,
  policy: 'service',
  nextReleaseMs: 2_000,
};

test('auth messages keep every field', () => {
  roundTrip(auth.User, user);
  roundTrip(auth.RegisterRequest, { lastName: 'Martin', firstName: 'Camille', email: 'c@e.x', password: 'pässwörd 🔑' });
  roundTrip(auth.RegisterResponse, { user });
  roundTrip(auth.AuthenticateRequest, { email: 'c@e.x', password: 'secret-123' });
  roundTrip(auth.AuthenticateResponse, { user });
  roundTrip(auth.GetUsersRequest, { ids: ['1', '2', '3'] });
  roundTrip(auth.GetUsersResponse, { users: [user, { ...user, id: '43', role: auth.Role.ROLE_STUDENT }] });
});

test('market messages keep every field', () => {
  roundTrip(market.Listing, listing);
  roundTrip(market.CreateListingRequest, {
    sellerId: '42',
    title: 'DVD',
    category: market.Category.CATEGORY_DVD,
    priceCents: 999,
    description: 'x',
    idempotencyKey: 'form-1',
    condition: market.Condition.CONDITION_FAIR,
    photos: ['0123456789abcdef0123456789abcdef'],
  });
  roundTrip(market.CreateListingResponse, { listing, replayed: true });
  roundTrip(market.FindSaleRequest, { sellerId: '42', idempotencyKey: 'form-1' });
  roundTrip(market.FindSaleResponse, { listing });
  roundTrip(market.ListListingsRequest, {
    filter: {
      category: market.Category.CATEGORY_OTHER,
      sellerId: '1',
      excludeSellerId: '2',
      status: market.ListingStatus.LISTING_STATUS_AVAILABLE,
    },
    pageSize: 50,
    pageToken: 'abc',
  });
  roundTrip(market.ListListingsResponse, { listings: [listing], nextPageToken: 'next' });
  roundTrip(market.GetListingRequest, { id: '7' });
  roundTrip(market.GetListingResponse, { listing });
  roundTrip(market.PurchaseRequest, { listingId: '7', buyerId: '43' });
  roundTrip(market.PurchaseResponse, { listing, replayed: true });
});

test('limiter messages keep every field, and an explicit cost of 0 stays distinguishable from no cost', () => {
  roundTrip(limiter.Decision, decision);
  roundTrip(limiter.ConsumeRequest, { policy: 'service', subject: '42', cost: 3 });
  roundTrip(limiter.ConsumeResponse, { decision });
  roundTrip(limiter.PeekRequest, { policy: 'login', subject: '42' });
  roundTrip(limiter.PeekResponse, { decision });
  roundTrip(limiter.ResetRequest, { policy: 'login', subject: '42' });
  roundTrip(limiter.ConsumeBatchRequest, {
    requests: [
      { policy: 'a', subject: 'b', cost: 1 },
      { policy: 'c', subject: 'd', cost: undefined },
    ],
  });
  roundTrip(limiter.ConsumeBatchResponse, {
    items: [
      { decision, error: undefined },
      { decision: undefined, error: { code: 5, message: 'unknown policy' } },
    ],
  });
  const zero = limiter.ConsumeRequest.decode(limiter.ConsumeRequest.encode({ policy: 'p', subject: 's', cost: 0 }).finish());
  const none = limiter.ConsumeRequest.decode(limiter.ConsumeRequest.encode({ policy: 'p', subject: 's' }).finish());
  expect(zero.cost).toBe(0);
  expect(none.cost).toBeUndefined();
});

test('stats messages keep every field', () => {
  roundTrip(stats.RecordLoginRequest, { eventId: 'e1', userId: '42', at });
  roundTrip(stats.RecordLoginResponse, { duplicate: true });
  roundTrip(stats.RecordServiceCallRequest, {
    eventId: 'e2',
    userId: '42',
    service: stats.ServiceKind.SERVICE_KIND_ACHAT,
    outcome: stats.Outcome.OUTCOME_DENIED,
    at,
  });
  roundTrip(stats.RecordServiceCallResponse, { duplicate: false });
  roundTrip(stats.RegisterUserRequest, { userId: '42' });
  roundTrip(stats.GetDashboardResponse, {
    lastLogins: [{ userId: '42', at }],
    topConnectors: [{ userId: '42', count: 12 }],
    leastServiceUsers: [{ userId: '43', count: 0 }],
    mostUsedService: { service: stats.ServiceKind.SERVICE_KIND_VENTE, count: 30 },
    serviceTotals: [{ service: stats.ServiceKind.SERVICE_KIND_VENTE, count: 30 }],
    deniedTotals: [{ service: stats.ServiceKind.SERVICE_KIND_ACHAT, count: 2 }],
    topDeniedUsers: [{ userId: '44', count: 2 }],
    lastHour: [{ minute: at, venteAllowed: 1, achatAllowed: 2, venteDenied: 3, achatDenied: 4 }],
    totalLogins: 99,
    knownUsers: 20,
  });
});

test('each service definition exposes the RPCs of the contract', () => {
  expect(Object.keys(auth.AuthServiceService).sort()).toEqual([
    'authenticate',
    'checkPasswordReset',
    'deleteAccount',
    'getUsers',
    'register',
    'resetPassword',
    'startPasswordReset',
  ]);
  expect(Object.keys(market.MarketServiceService).sort()).toEqual([
    'createListing',
    'findSale',
    'getListing',
    'listListings',
    'purchase',
    'searchListings',
    'updateListing',
    'withdrawListings',
  ]);
  expect(Object.keys(limiter.LimiterServiceService).sort()).toEqual(['consume', 'consumeBatch', 'peek', 'reset']);
  expect(Object.keys(stats.StatsServiceService).sort()).toEqual([
    'forgetUser',
    'getDashboard',
    'recordLogin',
    'recordServiceCall',
    'recordServiceCalls',
    'registerUser',
  ]);
  expect(auth.AuthServiceService.register.path).toBe('/etuservices.auth.v1.AuthService/Register');
  expect(limiter.LimiterServiceService.consume.path).toBe('/etuservices.limiter.v1.LimiterService/Consume');
});
