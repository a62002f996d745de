import { status as Status } from '@grpc/grpc-js';

/**
 * Typed domain errors. Handlers throw these; `wrapService` maps them to gRPC status codes in
 * one place. Their messages are safe to show to the caller (no secrets, no internals).
 */
export class DomainError extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidArgument extends DomainError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(Status.INVALID_ARGUMENT, `${field}: ${reason}`);
  }
}
export class NotFound extends DomainError {
  constructor(message: string) {
    super(Status.NOT_FOUND, message);
  }
}
export class AlreadyExists extends DomainError {
  constructor(message: string) {
    super(Status.ALREADY_EXISTS, message);
  }
}
export class FailedPrecondition extends DomainError {
  constructor(message: string) {
    super(Status.FAILED_PRECONDITION, message);
  }
}
/** The caller is known but may not do this (e.g. change another seller's listing). */
export class PermissionDenied extends DomainError {
  constructor(message: string) {
    super(Status.PERMISSION_DENIED, message);
  }
}
export class Unauthenticated extends DomainError {
  constructor(message: string) {
    super(Status.UNAUTHENTICATED, message);
  }
}
/** No capacity right now (e.g. auth's bounded password hashing): the caller may retry in a moment. */
export class ResourceExhausted extends DomainError {
  constructor(message: string) {
    super(Status.RESOURCE_EXHAUSTED, message);
  }
}
/** A dependency (database, Redis) cannot be reached right now; the caller may retry later. */
export class Unavailable extends DomainError {
  constructor(message: string) {
    super(Status.UNAVAILABLE, message);
  }
}
