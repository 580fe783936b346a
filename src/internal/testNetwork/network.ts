import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type { Network } from "../../Network.js"
import { familyOf, validateHost } from "../../Address.js"
import type { LayerOptions, Link, Packet, Snapshot, TestNetwork } from "../../TestNetwork.js"
// A cycle with TestNetwork.ts (which builds its layer from here), harmless:
// the class is only used when a control runs, long after both modules loaded.
import { InvalidArgument } from "../../TestNetwork.js"
import * as Fault from "./faults.js"
import * as Tcp from "./tcp.js"
import * as Udp from "./udp.js"
import { canonical, nameKey, preferred, wireHost, World } from "./world.js"

const defaultSeed = 0x5eed

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const invalidIn = (operation: string): Fault.OnInvalid<InvalidArgument> => (argument, message) =>
  new InvalidArgument({ operation, argument, message: `TestNetwork.${operation}: ${message}` })

/** The `hosts` option as names (lower case) to canonical IPs. */
const hostNames = (
  hosts: unknown,
  onInvalid: Fault.OnInvalid<InvalidArgument>
): Effect.Effect<Map<string, ReadonlyArray<string>>, InvalidArgument> =>
  Effect.gen(function*() {
    const names = new Map<string, ReadonlyArray<string>>()
    if (hosts === undefined) return names
    if (!isObject(hosts)) {
      return yield* onInvalid("hosts", `hosts ${Fault.show(hosts)} is not an object of names to addresses`)
    }
    for (const [name, ips] of Object.entries(hosts)) {
      // An IP literal is never looked up by name: as a key it would be dead.
      const isName = familyOf(name) === undefined && !name.startsWith("[") && (yield* Effect.isSuccess(validateHost(name)))
      if (!isName) return yield* onInvalid("hosts", `hosts: ${Fault.show(name)} is not a host name`)
      const list: ReadonlyArray<unknown> = typeof ips === "string" ? [ips] : Array.isArray(ips) ? ips : []
      if (list.length === 0 || !list.every((ip) => typeof ip === "string" && familyOf(ip) !== undefined)) {
        const argument = `hosts.${name}`
        return yield* onInvalid(argument, `${argument} ${Fault.show(ips)} is not an IP address or a non-empty list of them`)
      }
      names.set(nameKey(name), list.map((ip) => canonical(ip as string)))
    }
    return names
  })

/**
 * Builds one simulated network: the `Network` service programs use and the
 * `TestNetwork` controls tests use, over the same state. Fails when
 * `options` are not what `LayerOptions` says.
 *
 * @internal
 */
export const make = (options: LayerOptions): Effect.Effect<Services, InvalidArgument> =>
  Effect.gen(function*() {
    const onInvalid = invalidIn("layer")
    if (!isObject(options)) return yield* onInvalid("options", `options ${Fault.show(options)} is not an object`)
    const seed: unknown = options.seed ?? defaultSeed
    if (!Number.isSafeInteger(seed)) return yield* onInvalid("seed", `seed ${Fault.show(seed)} is not an integer`)
    const names = yield* hostNames(options.hosts, onInvalid)
    return build(new World(seed as number, names))
  })

/**
 * A simulated network with the default seed and host names.
 *
 * @internal
 */
export const makeDefault = (): Services => build(new World(defaultSeed, new Map()))

/**
 * The two services over one simulated network.
 *
 * @internal
 */
export interface Services {
  readonly network: Context.Tag.Service<Network>
  readonly control: Context.Tag.Service<TestNetwork>
}

const build = (world: World): Services => {
  const tcp = new Tcp.TcpStack(world)
  const udp = new Udp.UdpFabric(world)

  /** The host a control names, as traffic knows it; a name stands for the address a listen on it takes. */
  const hostOf = (host: unknown, argument: string, onInvalid: Fault.OnInvalid<InvalidArgument>) => {
    const ips = typeof host === "string" ? world.resolve(host) : undefined
    return ips === undefined
      ? Effect.fail(onInvalid(argument, `${argument} ${Fault.show(host)} is not an IP address or a known host name`))
      : Effect.succeed(wireHost(preferred(ips)!))
  }
  const linkOf = (link: Link, onInvalid: Fault.OnInvalid<InvalidArgument>) =>
    isObject(link)
      ? Effect.all([hostOf(link.from, "link.from", onInvalid), hostOf(link.to, "link.to", onInvalid)])
      : Effect.fail(onInvalid("link", `link ${Fault.show(link)} is not an object { from, to }`))
  const pairOf = (a: string, b: string, onInvalid: Fault.OnInvalid<InvalidArgument>) =>
    Effect.all([hostOf(a, "a", onInvalid), hostOf(b, "b", onInvalid)])
  const toxicityOf = (options: { readonly toxicity?: number | undefined } | undefined, onInvalid: Fault.OnInvalid<InvalidArgument>) => {
    if (options !== undefined && !isObject(options)) {
      return Effect.fail(onInvalid("options", `options ${Fault.show(options)} is not an object`))
    }
    const toxicity: unknown = options?.toxicity ?? 1
    return typeof toxicity === "number" && toxicity >= 0 && toxicity <= 1
      ? Effect.succeed(toxicity)
      : Effect.fail(onInvalid("options.toxicity", `options.toxicity ${Fault.show(toxicity)} is not a probability in 0..1`))
  }
  // Every change to the links first delivers what arrived under the old rules.
  const change = (f: () => void): Effect.Effect<void> =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        world.settleAll(clock.unsafeCurrentTimeMillis())
        f()
      })
    )
  const settled = <A>(f: () => A): Effect.Effect<A> =>
    Effect.clockWith((clock) =>
      Effect.sync(() => {
        world.settleAll(clock.unsafeCurrentTimeMillis())
        return f()
      })
    )
  /** A control that changes the link between two hosts. */
  const onLink = (operation: string, f: (from: string, to: string) => void) => (link: Link) =>
    Effect.flatMap(linkOf(link, invalidIn(operation)), ([from, to]) => change(() => f(from, to)))
  const onPair = (operation: string, f: (a: string, b: string) => void) => (a: string, b: string) =>
    Effect.flatMap(pairOf(a, b, invalidIn(operation)), ([x, y]) => change(() => f(x, y)))

  const snapshot = (host?: string): Effect.Effect<Snapshot, InvalidArgument> =>
    Effect.flatMap(
      host === undefined ? Effect.succeed(undefined) : hostOf(host, "host", invalidIn("snapshot")),
      (only) =>
        settled(() => {
          const mine = <A extends { readonly host: string }>(entries: Array<A>) =>
            only === undefined ? entries : entries.filter((entry) => entry.host === only)
          return {
            tcpListeners: mine(tcp.listenerInfo()),
            tcpConnections: mine(tcp.connectionInfo()),
            udpSockets: mine(udp.info())
          }
        })
    )

  return {
    network: {
      tcpListen: (options) => Tcp.listen(tcp, options),
      tcpConnect: (options) => Tcp.connect(tcp, options),
      udpBind: (options) => Udp.bind(udp, options),
      udpConnect: (options) => Udp.connect(udp, options)
    },
    control: {
      setFaults: (faults) =>
        Effect.flatMap(Fault.validate(faults, "faults", invalidIn("setFaults")), (valid) => change(() => world.setFaults(valid))),
      setLinkFaults: (link, faults, options) => {
        const onInvalid = invalidIn("setLinkFaults")
        return Effect.flatMap(
          Effect.all([linkOf(link, onInvalid), Fault.validate(faults, "faults", onInvalid), toxicityOf(options, onInvalid)]),
          ([[from, to], valid, toxicity]) => change(() => world.setLinkFaults(from, to, valid, toxicity))
        )
      },
      clearLinkFaults: onLink("clearLinkFaults", (from, to) => world.clearLinkFaults(from, to)),
      partition: onPair("partition", (a, b) => world.partition(a, b, true)),
      heal: onPair("heal", (a, b) => world.partition(a, b, false)),
      hold: onLink("hold", (from, to) => world.hold(from, to, true)),
      release: onLink("release", (from, to) => world.hold(from, to, false)),
      inFlight: settled((): ReadonlyArray<Packet> => [...tcp.packets(), ...udp.packets()].sort((a, b) => a.arrival - b.arrival)),
      snapshot
    }
  }
}
