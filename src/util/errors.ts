/**
 * A user-facing error: bad input, missing data, unknown name. The CLI prints its one-line message and exits
 * with code 2. Messages name the offending value and what was expected.
 */
export class UserError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
