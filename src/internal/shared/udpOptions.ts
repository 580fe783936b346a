import * as Effect from "effect/Effect"
import type { Family } from "../../Address.js"
import { familyOf, validateHost, validatePort } from "../../Address.js"
import type { AddressError } from "../../NetError.js"
import { BindError } from "../../NetError.js"
import type { UdpBindOptions } from "../../Network.js"
import { optionalPositiveInteger } from "./options.js"

const defaultReceiveBufferSize = 1024

/** What every Network implementation checks of `UdpBindOptions` before opening a socket. */
export interface UdpBindRequest {
  readonly capacity: number
  readonly overflow: "dropNewest" | "dropOldest"
  readonly port: number
  /** The validated host, still to be resolved; `undefined` means loopback. */
  readonly requested: string | undefined
  readonly family: Family
  readonly reuseAddress: boolean
  readonly broadcast: boolean
  readonly ttl: number | undefined
}

const invalid = (message: string) => new BindError({ reason: "InvalidArgument", message })

const checkOption = (valid: boolean, message: string): Effect.Effect<void, BindError> =>
  valid ? Effect.void : Effect.fail(invalid(message))

const isIntegerIn = (value: unknown, min: number, max: number): boolean =>
  Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max

/**
 * Validates `options` (typed errors, no socket opened) and picks the family:
 * the one asked for, else the hint (a connect's peer), else the host's,
 * else IPv4.
 *
 * @internal
 */
export const validateUdpBindOptions = (
  options: UdpBindOptions,
  familyHint: Family | undefined
): Effect.Effect<UdpBindRequest, BindError | AddressError> =>
  Effect.gen(function*() {
    const capacity = (yield* optionalPositiveInteger(options.receiveBufferSize, "Udp: receiveBufferSize", invalid)) ??
      defaultReceiveBufferSize
    const overflow = options.overflow ?? "dropNewest"
    yield* checkOption(
      overflow === "dropNewest" || overflow === "dropOldest",
      `Udp: overflow ${String(overflow)} is not "dropNewest" or "dropOldest"`
    )
    yield* checkOption(
      options.ttl === undefined || isIntegerIn(options.ttl, 1, 255),
      `Udp: ttl ${String(options.ttl)} is not an integer in 1..255`
    )
    yield* checkOption(
      options.family === undefined || options.family === "IPv4" || options.family === "IPv6",
      `Udp: family ${String(options.family)} is not "IPv4" or "IPv6"`
    )
    const port = yield* validatePort(options.port ?? 0)
    const requested = options.host === undefined ? undefined : yield* validateHost(options.host)
    const family = options.family ?? familyHint ?? (requested === undefined ? undefined : familyOf(requested)) ?? "IPv4"
    return {
      capacity,
      overflow,
      port,
      requested,
      family,
      reuseAddress: options.reuseAddress ?? false,
      broadcast: options.broadcast ?? false,
      ttl: options.ttl
    }
  })
