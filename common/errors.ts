/**
 * The one error class of the project, shaped like viem's: a short message for humans, optional
 * details, the underlying cause, and whether retrying the same operation can help.
 */
export type BaseErrorParameters = {
  details?: string;
  cause?: unknown;
  retryable?: boolean;
  metaMessages?: string[];
};

export class BaseError extends Error {
  override name = "FarError";
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly retryable: boolean;

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details =
      parameters.details ?? (parameters.cause instanceof Error ? parameters.cause.message : undefined);
    super(
      [shortMessage, ...(parameters.metaMessages ?? []), ...(details ? [`Details: ${details}`] : [])].join("\n"),
      parameters.cause === undefined ? undefined : { cause: parameters.cause },
    );
    this.shortMessage = shortMessage;
    this.details = details;
    this.retryable = parameters.retryable ?? false;
  }
}

export class ConfigError extends BaseError {
  override name = "ConfigError";
}
