/**
 * One entry of the git-ignored .secrets/demo-accounts.json: written by the auth seed
 * (`make seed`), read by the market seed to deal the demo listings out to the students.
 */
export interface DemoAccount {
  /** The account's public id (never the database row id). */
  id: string;
  email: string;
  /** null only when the account already existed and its password is not known here. */
  password: string | null;
  role: 'STUDENT' | 'ADMIN';
  firstName: string;
  lastName: string;
}
