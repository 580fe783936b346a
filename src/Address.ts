/**
 * Socket addresses: the `host:port` pairs that every socket is bound to or
 * talks to, with parsing, formatting and validation that fail with a typed
 * `AddressError` before any socket is opened.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Net from "node:net"
import { AddressError } from "./NetError.js"

/**
 * A port number: an integer from 0 to 65535.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Port = Schema.Int.pipe(Schema.between(0, 65535), Schema.annotations({ identifier: "Port" }))

/**
 * The address family of a socket: `IPv4` or `IPv6`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Family = Schema.Literal("IPv4", "IPv6")

/**
 * `"IPv4"` or `"IPv6"`.
 *
 * @since 0.1.0
 * @category models
 */
export type Family = typeof Family.Type

/**
 * A resolved socket address: an IP literal (never a host name) and a port.
 *
 * @since 0.1.0
 * @category models
 */
export interface SocketAddress {
  readonly family: Family
  readonly host: string
  readonly port: number
}

/**
 * The Schema of a `SocketAddress`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const SocketAddress: Schema.Schema<SocketAddress> = Schema.Struct({
  family: Family,
  host: Schema.String,
  port: Port
}).annotations({ identifier: "SocketAddress" })

/**
 * The family of an IP literal, or `undefined` when `host` is not one.
 *
 * @since 0.1.0
 * @category utils
 */
export const familyOf = (host: string): Family | undefined => {
  switch (Net.isIP(host)) {
    case 4:
      return "IPv4"
    case 6:
      return "IPv6"
    default:
      return undefined
  }
}

/**
 * Formats an address the way `parse` reads it: `127.0.0.1:80`, `[::1]:80`.
 *
 * @since 0.1.0
 * @category formatting
 */
export const format = (address: { readonly host: string; readonly port: number }): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/**
 * Parses `"127.0.0.1:80"` or `"[::1]:80"` into a `SocketAddress`. Host names
 * are not addresses: resolve them by connecting or binding with `host`.
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (text: string): Effect.Effect<SocketAddress, AddressError> => {
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text)
  const plain = bracketed === null ? /^([^:[\]]*):([^:]*)$/.exec(text) : null
  const match = bracketed ?? plain
  if (match === null) {
    return Effect.fail(
      new AddressError({ reason: "InvalidHost", message: `"${text}" is not of the form host:port or [host]:port` })
    )
  }
  const host = match[1]
  const family = familyOf(host)
  if (family === undefined || (bracketed !== null) !== (family === "IPv6")) {
    return Effect.fail(
      new AddressError({ reason: "InvalidHost", message: `"${host}" in "${text}" is not an IP address` })
    )
  }
  return Effect.map(validatePort(portFromText(match[2])), (port) => ({ family, host, port }))
}

const portFromText = (text: string): number => (/^\d{1,5}$/.test(text) ? Number(text) : Number.NaN)

/**
 * Checks that `port` is an integer in 0..65535.
 *
 * @since 0.1.0
 * @category validation
 */
export const validatePort = (port: unknown, options?: { readonly allowZero?: boolean }): Effect.Effect<number, AddressError> =>
  typeof port === "number" && Number.isInteger(port) && port >= (options?.allowZero === false ? 1 : 0) && port <= 65535
    ? Effect.succeed(port)
    : Effect.fail(
      new AddressError({
        reason: "InvalidPort",
        message: `port ${String(port)} is not an integer in ${options?.allowZero === false ? 1 : 0}..65535`
      })
    )

const hostLabel = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/

/**
 * Checks that `host` is an IP literal or a syntactically valid host name
 * (RFC 1123). Brackets around an IPv6 literal are removed. Says nothing of
 * whether a name resolves.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateHost = (host: unknown): Effect.Effect<string, AddressError> => {
  if (typeof host !== "string" || host.length === 0) {
    return Effect.fail(new AddressError({ reason: "InvalidHost", message: `host ${JSON.stringify(host)} is empty or not a string` }))
  }
  const unbracketed = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host
  if (familyOf(unbracketed) !== undefined) return Effect.succeed(unbracketed)
  const name = unbracketed.endsWith(".") ? unbracketed.slice(0, -1) : unbracketed
  const looksNumeric = /^[\d.]+$/.test(name)
  if (!looksNumeric && !name.includes(":") && name.length <= 253 && name.split(".").every((label) => hostLabel.test(label))) {
    return Effect.succeed(unbracketed)
  }
  return Effect.fail(new AddressError({ reason: "InvalidHost", message: `host "${host}" is neither an IP address nor a valid host name` }))
}
