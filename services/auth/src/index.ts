export { startAuthServer, toProtoUser, SERVICE_NAME, type AuthServer, type AuthServerOptions } from './server';
export { Accounts, BAD_CREDENTIALS, EMAIL_TAKEN, MAX_IDS_PER_CALL, type Account, type NewAccount } from './accounts';
export { PasswordHasher, CURRENT_PARAMS, type HashParams } from './passwords';
export { configShape, loadConfig } from './config';
