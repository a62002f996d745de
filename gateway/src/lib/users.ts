// Accounts as the gateway keeps them in the session and shows them in JSON.
import { auth } from '@etu/proto';
import type { SessionUser } from './session';

export function roleName(role: auth.Role): SessionUser['role'] {
  // Only ADMIN grants more; anything else is a student.
  return role === auth.Role.ROLE_ADMIN ? 'ADMIN' : 'STUDENT';
}

export function sessionUser(u: auth.User): SessionUser {
  return { id: u.id, firstName: u.firstName, lastName: u.lastName, email: u.email, role: roleName(u.role) };
}

export function userJson(u: SessionUser) {
  return { id: u.id, prenom: u.firstName, nom: u.lastName, email: u.email, role: u.role === 'ADMIN' ? 'admin' : 'etudiant' };
}
