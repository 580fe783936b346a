import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import type { Faults } from "../../TestNetwork.js"
import { optionalDuration } from "../shared/options.js"

/**
 * `Faults` with every field decided: durations in milliseconds, absent
 * limits as `Infinity`.
 *
 * @internal
 */
export interface Shape {
  readonly latency: number
  readonly jitter: number
  readonly drop: number
  readonly duplicate: number
  readonly reorder: number
  readonly sliceBytes: number
  readonly resetAfterBytes: number
  readonly refuse: boolean
  readonly stall: boolean
  readonly bandwidth: number
  readonly slowClose: number
}

/** @internal */
export const none: Shape = {
  latency: 0,
  jitter: 0,
  drop: 0,
  duplicate: 0,
  reorder: 0,
  sliceBytes: Infinity,
  resetAfterBytes: Infinity,
  refuse: false,
  stall: false,
  bandwidth: Infinity,
  slowClose: 0
}

const millis = (input: Duration.DurationInput | undefined): number =>
  input === undefined ? 0 : Duration.toMillis(Duration.decode(input))

/** @internal */
export const shape = (faults: Faults): Shape => ({
  latency: millis(faults.latency),
  jitter: millis(faults.jitter),
  drop: faults.drop ?? 0,
  duplicate: faults.duplicate ?? 0,
  reorder: faults.reorder ?? 0,
  sliceBytes: faults.sliceBytes ?? Infinity,
  resetAfterBytes: faults.resetAfterBytes ?? Infinity,
  refuse: faults.refuse ?? false,
  stall: faults.stall ?? false,
  bandwidth: faults.bandwidth ?? Infinity,
  slowClose: millis(faults.slowClose)
})

/**
 * Link faults override the global ones field by field: only the fields the
 * link sets.
 *
 * @internal
 */
export const override = (base: Faults, link: Faults): Faults => {
  const merged: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(link)) {
    if (value !== undefined) merged[key] = value
  }
  return merged as Faults
}

/**
 * Builds the error for an argument that is not what its type says:
 * `argument` names it (`faults.drop`), `message` says why.
 *
 * @internal
 */
export type OnInvalid<E> = (argument: string, message: string) => E

type Check = <E>(value: unknown, argument: string, onInvalid: OnInvalid<E>) => Effect.Effect<void, E>

/**
 * A value for an error message. Never throws: `String` does on an object
 * whose `toString` is not a function, which any JSON-like input can hold.
 *
 * @internal
 */
export const show = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value)
  if (Array.isArray(value)) return "an array"
  if (typeof value === "object" && value !== null) return "an object"
  if (typeof value === "function") return "a function"
  return String(value)
}

const ofType = (valid: (value: unknown) => boolean, what: string): Check => (value, argument, onInvalid) =>
  value === undefined || valid(value) ? Effect.void : Effect.fail(onInvalid(argument, `${argument} ${show(value)} is not ${what}`))

const isNumber = (value: unknown): value is number => typeof value === "number"

/** What `Duration.decodeUnknown` reads; anything else is not a duration (and may not even print). */
const isDurationShaped = (value: unknown): boolean =>
  typeof value === "number" || typeof value === "bigint" || typeof value === "string" || Duration.isDuration(value) ||
  (Array.isArray(value) && value.length === 2 && value.every(isNumber))

const duration: Check = (value, argument, onInvalid) => {
  if (value !== undefined && !isDurationShaped(value)) {
    return Effect.fail(onInvalid(argument, `${argument} ${show(value)} is not a duration`))
  }
  return Effect.flatMap(
    optionalDuration(value as Duration.DurationInput, argument, (message) => onInvalid(argument, message)),
    (decoded) =>
      decoded === undefined || Duration.isFinite(decoded)
        ? Effect.void
        : Effect.fail(onInvalid(argument, `${argument} ${show(value)} is not a finite duration`))
  )
}

const probability = ofType((p) => isNumber(p) && p >= 0 && p <= 1, "a probability in 0..1")

const checks: { readonly [K in keyof Required<Faults>]: Check } = {
  latency: duration,
  jitter: duration,
  slowClose: duration,
  drop: probability,
  duplicate: probability,
  reorder: probability,
  sliceBytes: ofType((n) => Number.isSafeInteger(n) && (n as number) >= 1, "a positive integer"),
  resetAfterBytes: ofType((n) => Number.isSafeInteger(n) && (n as number) >= 0, "a non-negative integer"),
  bandwidth: ofType((n) => isNumber(n) && n > 0, "a positive number of bytes per second"),
  refuse: ofType((b) => typeof b === "boolean", "a boolean"),
  stall: ofType((b) => typeof b === "boolean", "a boolean")
}

/**
 * `faults` as a `Faults` (a copy, so that later changes to the caller's
 * object change nothing), or the first field that is not what `Faults`
 * says. An unknown field is an error too: a misspelt fault would otherwise
 * leave the network perfect without a word.
 *
 * @internal
 */
export const validate = <E>(faults: unknown, argument: string, onInvalid: OnInvalid<E>): Effect.Effect<Faults, E> => {
  if (typeof faults !== "object" || faults === null || Array.isArray(faults)) {
    return Effect.fail(onInvalid(argument, `${argument} ${show(faults)} is not an object of faults`))
  }
  return Effect.as(
    Effect.forEach(Object.entries(faults), ([key, value]) =>
      Object.hasOwn(checks, key)
        ? checks[key as keyof Faults](value, `${argument}.${key}`, onInvalid)
        : Effect.fail(onInvalid(`${argument}.${key}`, `${argument}.${key} is not a fault (${Object.keys(checks).join(", ")})`)), {
      discard: true
    }),
    { ...faults } as Faults
  )
}

/** @internal */
export interface ArbitraryOptions {
  readonly maxLatencyMillis?: number | undefined
  readonly exclude?: ReadonlyArray<keyof Faults> | undefined
}

/** @internal */
export const arbitrary = (options?: ArbitraryOptions): FastCheck.Arbitrary<Faults> => {
  const maxLatency = options?.maxLatencyMillis ?? 200
  const probability = FastCheck.double({ min: 0, max: 1, noNaN: true })
  const fields: { readonly [K in keyof Required<Faults>]: FastCheck.Arbitrary<Required<Faults>[K]> } = {
    latency: FastCheck.integer({ min: 0, max: maxLatency }).map(Duration.millis),
    jitter: FastCheck.integer({ min: 0, max: maxLatency }).map(Duration.millis),
    drop: probability,
    duplicate: probability,
    reorder: probability,
    sliceBytes: FastCheck.integer({ min: 1, max: 64 }),
    resetAfterBytes: FastCheck.integer({ min: 0, max: 4096 }),
    refuse: FastCheck.boolean(),
    stall: FastCheck.boolean(),
    bandwidth: FastCheck.integer({ min: 1_000, max: 10_000_000 }),
    slowClose: FastCheck.integer({ min: 0, max: maxLatency }).map(Duration.millis)
  }
  const excluded = new Set<string>(options?.exclude ?? [])
  const kept = Object.fromEntries(Object.entries(fields).filter(([key]) => !excluded.has(key)))
  return FastCheck.record(kept, { requiredKeys: [] }) as FastCheck.Arbitrary<Faults>
}
