import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { BindError, ConnectError, SendError, WriteError } from "../../NetError.js"
import type { Network } from "../../Network.js"

// The types rule these values out, but JavaScript callers and configuration
// files do pass them: each check here turns one into a typed error, the same
// on every Network, instead of a TypeError thrown from deep inside a socket.

/** A short description of a value the types did not expect, for an error message. */
export const describeValue = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  switch (typeof value) {
    case "undefined":
      return "undefined"
    case "object": {
      const prototype: unknown = Object.getPrototypeOf(value)
      const name = prototype === Object.prototype || prototype === null ? undefined : value.constructor?.name
      return name === undefined || name === "" ? "an object" : `a ${name}`
    }
    case "string":
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
    case "function":
      return "a function"
    case "symbol":
      return "a symbol"
    default:
      return `the ${typeof value} ${String(value)}`
  }
}

/** What `send` and `sink` take: a `Uint8Array` (a Node `Buffer` is one) or a string. */
export const isPayload = (data: unknown): data is Uint8Array | string =>
  typeof data === "string" || data instanceof Uint8Array

const notPayload = (data: unknown): string => `the data is ${describeValue(data)}, not a Uint8Array or a string`

/** The error of a TCP write of something that is not a payload; nothing is written. */
export const invalidWrite = (data: unknown, address: string): WriteError =>
  new WriteError({ reason: "InvalidArgument", message: `write to ${address} failed: ${notPayload(data)}`, address })

/** The error of a UDP send of something that is not a payload; nothing is sent. */
export const invalidSend = (data: unknown, from: string): SendError =>
  new SendError({ reason: "InvalidArgument", message: `send from ${from} failed: ${notPayload(data)}` })

/**
 * Why an options argument is not an object, or one of its `booleans` is set
 * to something else (a configuration's `"true"`, which would otherwise be
 * ignored); `undefined` when all is well. `undefined` and `null` stand for
 * "the defaults" only where the options are `optional`.
 */
export const optionsProblem = (
  options: unknown,
  what: string,
  optional: boolean,
  booleans: ReadonlyArray<string> = []
): string | undefined => {
  if (typeof options !== "object" || options === null) {
    return optional && options == null ? undefined : `${what}: the options are ${describeValue(options)}, not an object`
  }
  for (const name of booleans) {
    const value: unknown = (options as Record<string, unknown>)[name]
    if (value !== undefined && typeof value !== "boolean") return `${what}: ${name} is ${describeValue(value)}, not a boolean`
  }
  return undefined
}

const connectBooleans = ["noDelay"]
const listenBooleans = ["noDelay", "ipv6Only"]
const udpBooleans = ["reuseAddress", "broadcast"]

/**
 * `network` with its operations' options checked first, the same way for
 * every implementation: both layers wrap their service in it, so that
 * `Tcp`/`Udp` and any direct user of the `Network` service (PlatformSocket)
 * get a typed `InvalidArgument`, never a TypeError from reading `undefined`.
 */
export const withArgumentChecks = (network: Context.Tag.Service<Network>): Context.Tag.Service<Network> => {
  const failure = <E>(problem: string | undefined, make: (message: string) => E): Effect.Effect<never, E> | undefined =>
    problem === undefined ? undefined : Effect.fail(make(problem))
  const invalidBind = (message: string) => new BindError({ reason: "InvalidArgument", message })
  const invalidConnect = (message: string) => new ConnectError({ reason: "InvalidArgument", message })
  return {
    tcpListen: (options) =>
      failure(optionsProblem(options, "Tcp.listen", true, listenBooleans), invalidBind) ??
        network.tcpListen(options ?? {}),
    tcpConnect: (options) =>
      failure(optionsProblem(options, "Tcp.connect", false, connectBooleans), invalidConnect) ?? network.tcpConnect(options),
    udpBind: (options) =>
      failure(optionsProblem(options, "Udp.bind", true, udpBooleans), invalidBind) ?? network.udpBind(options ?? {}),
    udpConnect: (options) =>
      failure(optionsProblem(options, "Udp.connect", false), invalidConnect) ??
        failure(optionsProblem(options.bind, "Udp.connect bind", true, udpBooleans), invalidBind) ??
        network.udpConnect(options)
  }
}
