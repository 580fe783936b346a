import * as Duration from "effect/Duration"
import * as FastCheck from "effect/FastCheck"
import type { Faults } from "../../TestNetwork.js"

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

const isProbability = (p: number | undefined) => p === undefined || (p >= 0 && p <= 1)
const isNonNegativeDuration = (d: Duration.DurationInput | undefined) => {
  if (d === undefined) return true
  const decoded = Duration.decodeUnknown(d)
  return decoded._tag === "Some" && Duration.isFinite(decoded.value)
}

/**
 * Why `faults` is unusable, or `undefined` when it is fine.
 *
 * @internal
 */
export const invalid = (faults: Faults): string | undefined => {
  if (!isNonNegativeDuration(faults.latency)) return `latency ${String(faults.latency)} is not a finite duration`
  if (!isNonNegativeDuration(faults.jitter)) return `jitter ${String(faults.jitter)} is not a finite duration`
  if (!isNonNegativeDuration(faults.slowClose)) return `slowClose ${String(faults.slowClose)} is not a finite duration`
  for (const key of ["drop", "duplicate", "reorder"] as const) {
    if (!isProbability(faults[key])) return `${key} ${faults[key]} is not a probability in 0..1`
  }
  if (faults.sliceBytes !== undefined && !(Number.isInteger(faults.sliceBytes) && faults.sliceBytes >= 1)) {
    return `sliceBytes ${faults.sliceBytes} is not a positive integer`
  }
  if (faults.resetAfterBytes !== undefined && !(Number.isInteger(faults.resetAfterBytes) && faults.resetAfterBytes >= 0)) {
    return `resetAfterBytes ${faults.resetAfterBytes} is not a non-negative integer`
  }
  if (faults.bandwidth !== undefined && !(faults.bandwidth > 0)) {
    return `bandwidth ${faults.bandwidth} is not a positive number of bytes per second`
  }
  return undefined
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
