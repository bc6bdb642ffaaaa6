/**
 * The service's error codes and the HTTP status each one maps to (CONTRACT.md, "REST API").
 * `ROUTE_NOT_FOUND` is ours: the contract lists no code for a path or method that does not exist.
 */
export const ERROR_STATUS = {
  INVALID_JSON: 400,
  VALIDATION_FAILED: 400,
  NAME_MISMATCH: 400,
  /** A request the HTTP layer cannot read (bad request line, malformed headers). */
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  DELETION_DISABLED: 403,
  FLAG_NOT_FOUND: 404,
  /** Not in the contract's list; an unknown evaluator is a 404 like an unknown flag. */
  EVALUATOR_NOT_FOUND: 404,
  /** Not in the contract's list; an unknown schedule of a flag is a 404 like an unknown flag. */
  SCHEDULE_NOT_FOUND: 404,
  /** Not in the contract's list: the flag has never had a rollout (`GET /flags/{flagName}/rollout`). */
  ROLLOUT_NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  FLAG_EXISTS: 409,
  EVALUATOR_IN_USE: 409,
  /** The schedule already ran, failed or was cancelled: it can no longer be cancelled. */
  SCHEDULE_DONE: 409,
  /** A rollout of the flag is running: the flag changes only through it (or its abort) until it ends. */
  ROLLOUT_RUNNING: 409,
  /** Not in the contract's list: an abort of a rollout that completed or was aborted already. */
  ROLLOUT_NOT_RUNNING: 409,
  VERSION_CONFLICT: 412,
  /** The client did not send its request in time (ours: the contract lists no code for 408). */
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  /** Too many requests from one address (the OFREP limiter, WAF's rate rule, the stage's throttle). */
  THROTTLED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  /** The service cannot reach its database; retry shortly. */
  DEPENDENCY_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** A failure the client caused or must know about; `code` decides the HTTP status. */
export interface ServiceError extends Error {
  name: "ServiceError";
  code: ErrorCode;
  status: number;
}

/**
 * Creates a ServiceError. A plain Error with fields rather than a subclass: Pulumi's closure
 * serializer rebuilds subclasses of built-ins as `Error.call(this)`, which loses the message.
 */
export function serviceError(code: ErrorCode, message: string, options?: ErrorOptions): ServiceError {
  const error = new Error(message, options) as ServiceError;
  error.name = "ServiceError";
  error.code = code;
  error.status = ERROR_STATUS[code];
  return error;
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof Error && error.name === "ServiceError" && (error as ServiceError).code in ERROR_STATUS;
}

export const flagNotFound = (flagName: string): ServiceError =>
  serviceError("FLAG_NOT_FOUND", `flag '${flagName}' does not exist`);

export const flagExists = (flagName: string): ServiceError =>
  serviceError("FLAG_EXISTS", `flag '${flagName}' already exists`);

export const versionConflict = (flagName: string, expected: number, actual: number): ServiceError =>
  serviceError(
    "VERSION_CONFLICT",
    `flag '${flagName}' is at version ${actual}, not ${expected}; read it again and retry`,
  );
