export { startAuthServer, toProtoUser, SERVICE_NAME, type AuthServer, type AuthServerOptions } from './server';
export { Accounts, BAD_CREDENTIALS, EMAIL_TAKEN, MAX_IDS_PER_CALL, type Account, type NewAccount } from './accounts';
export { PasswordHasher, HashGate, CURRENT_PARAMS, DEFAULT_HASH_LIMITS, HASHING_BUSY, type HashParams, type HashLimits } from './passwords';
export { configShape, loadConfig } from './config';
export { registerAllUsers } from './register-users';
