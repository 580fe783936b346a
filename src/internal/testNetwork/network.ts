import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Network } from "../../Network.js"
import type { Faults, Link, LayerOptions, Packet, Snapshot, TestNetwork } from "../../TestNetwork.js"
import * as Fault from "./faults.js"
import * as Tcp from "./tcp.js"
import * as Udp from "./udp.js"
import { World } from "./world.js"

const defaultSeed = 0x5eed

/**
 * Builds one simulated network: the `Network` service programs use and the
 * `TestNetwork` controls tests use, over the same state.
 *
 * @internal
 */
export const make = (options?: LayerOptions): {
  readonly network: Context.Tag.Service<Network>
  readonly control: Context.Tag.Service<TestNetwork>
} => {
  const names = new Map(
    Object.entries(options?.hosts ?? {}).map(([name, ips]) => [name.toLowerCase(), typeof ips === "string" ? [ips] : ips])
  )
  const world = new World(options?.seed ?? defaultSeed, names)
  const tcp = new Tcp.TcpStack(world)
  const udp = new Udp.UdpFabric(world)

  const hostOf = (host: string): Effect.Effect<string> => {
    const ips = world.resolve(host)
    return ips === undefined
      ? Effect.dieMessage(`TestNetwork: host "${host}" is not an IP address or a known name`)
      : Effect.succeed(ips[0])
  }
  const linkOf = (link: Link) => Effect.all([hostOf(link.from), hostOf(link.to)])
  // Every change to the links first delivers what arrived under the old rules.
  const change = (f: () => void): Effect.Effect<void> =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        world.settleAll(clock.unsafeCurrentTimeMillis())
        f()
      })
    )
  const checked = (faults: Faults): Effect.Effect<void> => {
    const problem = Fault.invalid(faults)
    return problem === undefined ? Effect.void : Effect.dieMessage(`TestNetwork: ${problem}`)
  }
  const settled = <A>(f: () => A): Effect.Effect<A> =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        world.settleAll(clock.unsafeCurrentTimeMillis())
        return f()
      })
    )

  const snapshot = (host?: string): Effect.Effect<Snapshot> =>
    Effect.flatMap(host === undefined ? Effect.succeed(undefined) : hostOf(host), (only) =>
      settled(() => {
        const mine = <A extends { readonly host: string }>(entries: Array<A>) =>
          only === undefined ? entries : entries.filter((entry) => entry.host === only)
        return {
          tcpListeners: mine(tcp.listenerInfo()),
          tcpConnections: mine(tcp.connectionInfo()),
          udpSockets: mine(udp.info())
        }
      }))

  return {
    network: {
      tcpListen: (options) => Tcp.listen(tcp, options),
      tcpConnect: (options) => Tcp.connect(tcp, options),
      udpBind: (options) => Udp.bind(udp, options),
      udpConnect: (options) => Udp.connect(udp, options)
    },
    control: {
      setFaults: (faults) => Effect.zipRight(checked(faults), change(() => world.setFaults(faults))),
      setLinkFaults: (link, faults, options) =>
        Effect.flatMap(Effect.zipRight(checked(faults), linkOf(link)), ([from, to]) => {
          const toxicity = options?.toxicity ?? 1
          return toxicity >= 0 && toxicity <= 1
            ? change(() => world.setLinkFaults(from, to, faults, toxicity))
            : Effect.dieMessage(`TestNetwork: toxicity ${toxicity} is not a probability in 0..1`)
        }),
      clearLinkFaults: (link) => Effect.flatMap(linkOf(link), ([from, to]) => change(() => world.clearLinkFaults(from, to))),
      partition: (a, b) => Effect.flatMap(linkOf({ from: a, to: b }), ([x, y]) => change(() => world.partition(x, y, true))),
      heal: (a, b) => Effect.flatMap(linkOf({ from: a, to: b }), ([x, y]) => change(() => world.partition(x, y, false))),
      hold: (link) => Effect.flatMap(linkOf(link), ([from, to]) => change(() => world.hold(from, to, true))),
      release: (link) => Effect.flatMap(linkOf(link), ([from, to]) => change(() => world.hold(from, to, false))),
      inFlight: settled((): ReadonlyArray<Packet> => [...tcp.packets(), ...udp.packets()].sort((a, b) => a.arrival - b.arrival)),
      snapshot
    }
  }
}
