// Placeholder until the market issue lands.
console.log('seed(market): nothing to seed yet');
