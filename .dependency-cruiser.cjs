// The architecture as rules (docs/architecture.md, "Lint rules"); `make lint` runs them over every
// part. Workspace packages (@etu/common, @etu/proto, ...) resolve to their sources through
// tsconfig.typecheck-tests.json's paths, so an import of a package counts as an import of its folder.
const SERVICES = '^services/(auth|market|limiter|stats)/';
const PRODUCTION_SRC = '^(proto|prisma|services/[^/]+|gateway)/src/';
const GW = '^gateway/src/';

/** Inside the gateway: `from` may not import any of `to` (a layer above it). */
const gatewayLayer = (name, comment, from, to) => ({
  name,
  comment,
  severity: 'error',
  from: { path: `${GW}${from}` },
  to: { path: to.map((t) => `${GW}${t}`) },
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No cycles: every module can be read after what it imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    // Between the parts: a clean star over gRPC.
    {
      name: 'services-not-to-gateway',
      comment: 'A service never imports the gateway: the gateway calls the services, over gRPC.',
      severity: 'error',
      from: { path: '^services/' },
      // By folder, or by package name when it does not resolve (the gateway has no package entry).
      to: { path: ['^gateway/', '^@etu/gateway(/|$)'] },
    },
    {
      name: 'services-not-to-each-other',
      comment: 'A service imports only @etu/common, @etu/proto and @etu/db, never another service.',
      severity: 'error',
      from: { path: `${SERVICES}` },
      to: { path: SERVICES, pathNot: '^services/$1/' },
    },
    {
      name: 'libraries-not-to-parts',
      comment: '@etu/common, @etu/proto and @etu/db are below every part: they import no service and not the gateway.',
      severity: 'error',
      from: { path: '^(services/common|proto|prisma)/' },
      to: { path: [SERVICES, '^gateway/'] },
    },
    // Test code stays out of production code (and so out of the images).
    {
      name: 'src-not-to-tests',
      comment: 'src/ never imports test code: tests, their helpers and fixtures, e2e, deploy/test, the bench.',
      severity: 'error',
      from: { path: PRODUCTION_SRC },
      to: { path: ['(^|/)test/', '\\.test\\.ts$', '^e2e/', '^bench/'] },
    },
    {
      name: 'src-not-to-testkit',
      comment: '@etu/testkit is dev-only (pruned from the images): production code never imports it.',
      severity: 'error',
      from: { path: PRODUCTION_SRC },
      to: { path: '^testkit/' },
    },
    // Inside a service: main.ts wires, server.ts maps gRPC onto the domain, the domain knows neither.
    {
      name: 'main-is-wiring',
      comment: 'main.ts only wires a part together: nothing imports it.',
      severity: 'error',
      from: {},
      to: { path: '^(services/[^/]+|gateway)/src/main\\.ts$' },
    },
    {
      name: 'service-domain-below-server',
      comment: 'A service’s domain and store modules never import its server.ts (the gRPC layer above them).',
      severity: 'error',
      from: { path: `${SERVICES}src/`, pathNot: '/src/(server|main|index)\\.ts$' },
      to: { path: '^services/$1/src/server\\.ts$' },
    },
    // Inside the gateway, lowest first: context/deps (types) < lib < middleware < quota < flows, pages < routes < app < main.
    {
      name: 'gateway-types-only',
      comment: 'context.ts and deps.ts hold types only: they may name other modules’ types (import type), never load them.',
      severity: 'error',
      from: { path: `${GW}(context|deps)\\.ts$` },
      to: { path: GW, dependencyTypesNot: ['type-only'] },
    },
    gatewayLayer(
      'gateway-lib-is-lowest',
      'lib/ holds pure helpers: it imports no middleware, quota, flow, page, router or the app.',
      'lib/',
      ['middleware/', 'flows/', 'pages/', 'routes/', '(quota|app|main)\\.ts$'],
    ),
    gatewayLayer(
      'gateway-middleware-below-quota',
      'middleware/ runs for every request: it imports no quota, flow, page, router or the app.',
      'middleware/',
      ['flows/', 'pages/', 'routes/', '(quota|app|main)\\.ts$'],
    ),
    gatewayLayer(
      'gateway-quota-below-flows',
      'quota.ts is the door to the limiter that flows use: it imports no flow, page, router or the app.',
      'quota\\.ts$',
      ['flows/', 'pages/', 'routes/', '(app|main)\\.ts$'],
    ),
    gatewayLayer('gateway-flows-below-routes', 'flows/ do one request’s work: no page, router or the app.', 'flows/', [
      'pages/',
      'routes/',
      '(app|main)\\.ts$',
    ]),
    gatewayLayer('gateway-pages-below-routes', 'pages/ build what a page shows: no flow, router or the app.', 'pages/', [
      'flows/',
      'routes/',
      '(app|main)\\.ts$',
    ]),
    gatewayLayer('gateway-routes-below-app', 'routes/ are thin routers: they never import the app.', 'routes/', ['(app|main)\\.ts$']),
    {
      name: 'gateway-routers-apart',
      comment: 'No router imports another router: what two share lives in lib/, flows/ or pages/.',
      severity: 'error',
      from: { path: `${GW}routes/([^/]+)$` },
      to: { path: `${GW}routes/`, pathNot: `${GW}routes/$1$` },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['(^|/)(dist|node_modules)/', '^proto/gen/', '^prisma/src/generated/'] },
    // `import type` counts too: a layer that only names an upper layer's types still depends on it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.typecheck-tests.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
