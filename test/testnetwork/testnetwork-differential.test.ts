/**
 * A differential test of how both networks read and report addresses: the
 * same table of listens, connects, binds and sends (IPv4, IPv6, IPv4-mapped,
 * bracketed, spelt-out and named hosts, each with each local address) runs
 * on real loopback sockets and on the simulation, and every outcome (the
 * addresses each side reports, or the error's tag and reason) must match.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { SocketAddress } from "../../src/Address.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import * as Udp from "../../src/Udp.js"
import { localhostAddresses } from "../conformance/suite.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

// Ports differ between the networks (the kernel's ephemeral ports, the
// simulation's from 49152): outcomes name addresses without them.
const where = (address: SocketAddress) => `${address.family} ${address.host}`

const outcome = <A, E extends { readonly _tag: string; readonly reason: string }, R>(
  effect: Effect.Effect<A, E, R>,
  show: (a: A) => string
) => Effect.map(Effect.either(effect), Either.match({ onLeft: (e) => `${e._tag} ${e.reason}`, onRight: show }))

const listenHosts = [
  "127.0.0.1",
  "::1",
  "::ffff:127.0.0.1",
  "::ffff:7f00:3",
  "0:0:0:0:0:0:0:1",
  "[::1]",
  "LOCALHOST",
  "localhost."
]
const connectHosts = ["127.0.0.1", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]", "localhost"]
const localAddresses = [undefined, "127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.2"]
const udpBinds: ReadonlyArray<Udp.UdpBindOptions> = [
  { host: "::ffff:127.0.0.1", family: "IPv4" },
  { host: "127.0.0.1", family: "IPv6" },
  { host: "::ffff:127.0.0.2" },
  { host: "localhost" },
  { host: "localhost", family: "IPv6" }
]
const udpDestinations = ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.2", "localhost"]

/** Every case of the table, as lines of "case: outcome". */
const table = Effect.gen(function*() {
  const lines: Array<string> = []
  for (const host of listenHosts) {
    lines.push(`listen ${host}: ${yield* outcome(Effect.scoped(Tcp.listen({ host })), (l) => where(l.address))}`)
  }
  const listener = yield* Tcp.listen()
  for (const host of connectHosts) {
    for (const localAddress of localAddresses) {
      const connected = Effect.scoped(Effect.gen(function*() {
        const client = yield* Tcp.connect({ host, port: listener.address.port, ...(localAddress && { localAddress }) })
        const server = yield* Effect.scoped(listener.accept)
        return [client.localAddress, client.remoteAddress, server.remoteAddress].map(where).join(" | ")
      }))
      lines.push(`connect ${host} from ${localAddress}: ${yield* outcome(connected, (s) => s)}`)
    }
  }
  for (const options of udpBinds) {
    const bound = Effect.scoped(Udp.bind(options))
    lines.push(`udp bind ${JSON.stringify(options)}: ${yield* outcome(bound, (s) => where(s.address))}`)
  }
  const four = yield* Udp.bind()
  const mapped = yield* Udp.bind({ host: "::ffff:127.0.0.2" })
  for (const [name, sender] of [["127.0.0.1", four], ["::ffff:127.0.0.2", mapped]] as const) {
    for (const to of udpDestinations) {
      const receiver = to.endsWith("127.0.0.2") ? mapped : four
      const sent = Effect.gen(function*() {
        yield* sender.send(name, { host: to, port: receiver.address.port })
        const datagram = yield* Effect.timeoutOption(receiver.recv, "2 seconds")
        return Option.match(datagram, { onNone: () => "lost", onSome: (d) => `from ${where(d.from)}` })
      })
      lines.push(`udp ${name} -> ${to}: ${yield* outcome(sent, (s) => s)}`)
    }
  }
  return lines
})

const run = (layer: Layer.Layer<Network, unknown>) => Effect.provide(Effect.scoped(table), layer)

describe("NodeNetwork and TestNetwork read and report addresses alike", () => {
  it.live("every listen, connect, bind and send of the table has the same outcome on both", () =>
    Effect.gen(function*() {
      const localhost = yield* Effect.promise(localhostAddresses)
      const real = yield* run(NodeNetwork.layer)
      const simulated = yield* run(TestNetwork.layer({ hosts: { localhost } }))
      expect(simulated).toEqual(real)
      // The table is not vacuous: it holds successes and typed errors both.
      expect(real.some((line) => line.includes("Error"))).toBe(true)
      expect(real.some((line) => line.includes("from IPv6 ::ffff:127.0.0.1"))).toBe(true)
    }))
})
