// Placeholder until the auth issue lands.
console.log('seed(auth): nothing to seed yet');
