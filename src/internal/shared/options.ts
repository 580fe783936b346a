import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * Decodes an optional duration option without throwing: `Duration.decode`
 * throws on malformed input, and bad input must be a typed error.
 *
 * @internal
 */
export const optionalDuration = <E>(
  value: Duration.DurationInput | undefined,
  name: string,
  onInvalid: (message: string) => E
): Effect.Effect<Duration.Duration | undefined, E> => {
  if (value === undefined) return Effect.succeed(undefined)
  // Duration.decodeUnknown turns negative and NaN inputs into zero: reject them first.
  const negative = typeof value === "number"
    ? !(value >= 0)
    : typeof value === "string"
    ? /^\s*-|NaN/.test(value)
    : typeof value === "bigint"
    ? value < 0n
    : Array.isArray(value) && value.some((part) => !(part >= 0))
  const decoded = negative ? Option.none() : Duration.decodeUnknown(value)
  return Option.isSome(decoded)
    ? Effect.succeed(decoded.value)
    : Effect.fail(onInvalid(`${name} ${String(value)} is not a non-negative duration`))
}

/** @internal */
export const optionalPositiveInteger = <E>(
  value: number | undefined,
  name: string,
  onInvalid: (message: string) => E
): Effect.Effect<number | undefined, E> =>
  value === undefined || (Number.isSafeInteger(value) && value >= 1)
    ? Effect.succeed(value)
    : Effect.fail(onInvalid(`${name} ${String(value)} is not a positive integer`))
