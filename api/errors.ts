/**
 * Errors a client may see: bad input, or an indexer that has not started. Each carries a stable
 * `code` that reaches the response as `extensions.code`; any other error is masked by Yoga.
 */
import { GraphQLError } from "graphql";
import { BaseError } from "../common/errors";

export type ApiErrorCode =
  | "BAD_USER_INPUT"
  | "INVALID_ADDRESS"
  | "INVALID_BYTES32"
  | "INVALID_BIGINT"
  | "INVALID_DATETIME"
  | "INVALID_CURSOR"
  | "PAGE_TOO_LARGE"
  | "INVALID_RANGE"
  | "INDEXER_NOT_READY"
  | "CURSOR_EXPIRED"
  | "SLOW_CONSUMER"
  | "FEED_UNAVAILABLE"
  | "TOO_MANY_SUBSCRIPTIONS"
  | "LIST_TOO_LONG"
  | "TOO_MANY_SERIES_POINTS"
  | "TRANSACTION_NOT_INDEXED";

export class ApiError extends BaseError {
  override name = "ApiError";
  readonly code: ApiErrorCode;

  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.code = code;
  }

  /** graphql-js copies an original error's `extensions` onto the GraphQLError it wraps it in. */
  get extensions() {
    return { code: this.code };
  }
}

/** How much of a client's input a message may quote: enough to recognise it, never the whole of it. */
const QUOTE_LIMIT = 64;

/** `text` cut to `limit` characters, marked with "…" where it was cut. */
export function clip(text: string, limit = QUOTE_LIMIT): string {
  return text.length <= limit ? text : `${text.slice(0, limit)}…`;
}

/** A message with every quoted part ("…", as graphql-js and our scalars quote input) clipped, and the whole bounded. */
function clipMessage(message: string): string {
  const quoted = message.replace(/"((?:[^"\\]|\\.)*)"/g, (_match, inner: string) => `"${clip(inner)}"`);
  return clip(quoted, 4 * QUOTE_LIMIT + 200);
}

/**
 * An error graphql-js or Yoga raised about the request itself (syntax, validation, variable
 * coercion) rather than a failure of ours: a GraphQLError with nothing but GraphQLErrors under it.
 */
export function isRequestError(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError)) return false;
  return error.originalError === undefined || error.originalError === null || isRequestError(error.originalError);
}

/**
 * The error a client sees for its own mistake: `fallbackCode` when nothing coded it, the
 * message clipped. Yoga's `http` extension (the status it answers with) is kept.
 */
export function asClientError(error: GraphQLError, fallbackCode: string): GraphQLError {
  return new GraphQLError(clipMessage(error.message), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code: error.extensions.code ?? fallbackCode },
  });
}
