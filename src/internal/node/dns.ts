import * as Effect from "effect/Effect"
import * as Dns from "node:dns"
import { familyOf } from "../../Address.js"

/**
 * Resolves a host name to one address (IP literals pass as they are). With
 * no family asked for, an IPv4 address is preferred, as the loopback
 * defaults are.
 *
 * @internal
 */
export const lookupHost = <E>(
  host: string,
  family: 0 | 4 | 6,
  onError: (error: unknown) => E
): Effect.Effect<string, E> =>
  familyOf(host) !== undefined
    ? Effect.succeed(host)
    : Effect.async<string, E>((resume) => {
      // getaddrinfo cannot be cancelled; an interrupted lookup finishes unobserved.
      Dns.lookup(host, { family, all: true }, (error, addresses) => {
        if (error !== null) return resume(Effect.fail(onError(error)))
        const chosen = addresses.find((address) => address.family === 4) ?? addresses[0]
        resume(
          chosen === undefined
            ? Effect.fail(onError(Object.assign(new Error(`no address for ${host}`), { code: "ENOTFOUND" })))
            : Effect.succeed(chosen.address)
        )
      })
    })
