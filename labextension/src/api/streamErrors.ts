/**
 * How a streamed request fails: the server refused or failed it, or the
 * client cancelled it.
 */

/**
 * The server refused or failed a streamed request.
 */
export class StreamError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

/**
 * A streamed request was cancelled by the client.
 */
export class StreamCancelledError extends Error {
  constructor(readonly id: string) {
    super(`request ${id} was cancelled`);
    this.name = 'StreamCancelledError';
  }
}

/**
 * Whether `error` is the cancellation of a streamed request.
 */
export function isCancelled(error: unknown): error is StreamCancelledError {
  return error instanceof StreamCancelledError;
}
