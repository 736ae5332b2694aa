/**
 * Errors a client may see: bad input, or an indexer that has not started. Each carries a stable
 * `code` that reaches the response as `extensions.code`; any other error is masked by Yoga.
 */
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
  | "TOO_MANY_SUBSCRIPTIONS";

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
