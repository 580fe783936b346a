import * as Net from "node:net"
import type { SocketAddress } from "../../Address.js"
import { familyOf } from "../../Address.js"
import type { Faults } from "../../TestNetwork.js"
import * as Fault from "./faults.js"
import { Random } from "./random.js"
import { Signal } from "./signal.js"

/**
 * Faults set on one direction of one link, applied to a connection (or a
 * datagram) with probability `toxicity`. `generation` tells rules apart so a
 * connection rolls its toxicity once per rule.
 *
 * @internal
 */
export interface LinkRule {
  readonly faults: Faults
  readonly toxicity: number
  readonly generation: number
}

/**
 * Decides whether a link rule applies: once per connection for TCP, per
 * datagram for UDP.
 *
 * @internal
 */
export type Roll = (rule: LinkRule) => boolean

/** @internal */
export const isWildcard = (host: string): boolean => host === "0.0.0.0" || host === "::"

/**
 * The canonical text of an IP literal, so that `::1` and `0:0:0:0:0:0:0:1`
 * are one host: the text Node reports for it (`inet_ntop`'s, which writes
 * an IPv4-mapped address as `::ffff:127.0.0.1`).
 *
 * @internal
 */
export const canonical = (ip: string): string =>
  familyOf(ip) === "IPv6" ? new Net.SocketAddress({ address: ip, family: "ipv6" }).address : ip

const mappedPrefix = "::ffff:"

/**
 * The host traffic to or from `ip` (canonical) travels by: an IPv4-mapped
 * IPv6 address is its IPv4 address, as in the kernel, where an IPv6 socket
 * on `::ffff:127.0.0.1` talks IPv4 with `127.0.0.1`.
 *
 * @internal
 */
export const wireHost = (ip: string): string => {
  const embedded = ip.startsWith(mappedPrefix) ? ip.slice(mappedPrefix.length) : undefined
  return embedded !== undefined && familyOf(embedded) === "IPv4" ? embedded : ip
}

/** True for an IPv4-mapped IPv6 address (canonical). @internal */
export const isMapped = (ip: string): boolean => wireHost(ip) !== ip

/**
 * How a socket of `family` names a peer or itself: an IPv6 socket sees
 * IPv4 traffic as coming from the IPv4-mapped address, an IPv4 socket sees
 * an IPv4-mapped address as its IPv4 address.
 *
 * @internal
 */
export const seenBy = (family: "IPv4" | "IPv6", address: SocketAddress): SocketAddress => {
  const wire = wireHost(address.host)
  if (family === "IPv6" && familyOf(wire) === "IPv4") return { family, host: mappedPrefix + wire, port: address.port }
  if (family === "IPv4" && wire !== address.host) return { family, host: wire, port: address.port }
  return address
}

/**
 * How a host name is looked up: case does not count; a trailing dot does,
 * as in glibc's hosts file lookup (`localhost.` is not found on this
 * project's machines, through NodeNetwork).
 *
 * @internal
 */
export const nameKey = (name: string): string => name.toLowerCase()

/**
 * What `localhost` resolves to unless the layer's `hosts` say otherwise:
 * what Node's resolver returns on a machine whose hosts file has only
 * `127.0.0.1 localhost` (this project's machines, and many containers).
 */
const defaultLocalhost: ReadonlyArray<string> = ["127.0.0.1"]

/**
 * The address a name stands for when one is needed, as NodeNetwork picks
 * it: of `family` when given, an IPv4 one first.
 *
 * @internal
 */
export const preferred = (ips: ReadonlyArray<string>, family?: "IPv4" | "IPv6"): string | undefined => {
  const usable = family === undefined ? ips : ips.filter((ip) => familyOf(ip) === family)
  return usable.find((ip) => familyOf(ip) === "IPv4") ?? usable[0]
}

/**
 * A port taken on a host (as traffic knows it: see `wireHost`). `v6Only`:
 * a `::` bind that covers only IPv6 addresses (`ipv6Only`); a plain `::`
 * bind is dual-stack and covers IPv4 too, as on Linux.
 *
 * @internal
 */
export interface Binding {
  readonly host: string
  readonly reuse: boolean
  readonly v6Only: boolean
}

/** True when traffic to `host` reaches a socket bound to `binding`'s host. */
export const reaches = (binding: { readonly host: string; readonly v6Only: boolean }, host: string): boolean =>
  binding.host === host ||
  (binding.host === "::" && (!binding.v6Only || familyOf(host) === "IPv6")) ||
  (binding.host === "0.0.0.0" && familyOf(host) === "IPv4")

const conflicts = (a: Binding, b: Binding): boolean =>
  (reaches(a, b.host) || reaches(b, a.host)) && !(a.reuse && b.reuse)

/**
 * A port space (one for TCP, one for UDP) with Linux's conflict rules:
 * the same port on the same host, or on a wildcard covering it, is in use
 * unless both sockets asked for address reuse.
 *
 * @internal
 */
export class Ports {
  private readonly bound = new Map<number, Array<Binding>>()
  private readonly nextEphemeral = new Map<string, number>()

  inUse(binding: Binding, port: number): boolean {
    return (this.bound.get(port) ?? []).some((other) => conflicts(other, binding))
  }

  /** Takes `port` (0 = the next free ephemeral port of the host); `undefined` when in use. */
  take(binding: Binding, port: number): number | undefined {
    const chosen = port === 0 ? this.ephemeral(binding) : port
    if (chosen === undefined || this.inUse(binding, chosen)) return undefined
    const entries = this.bound.get(chosen) ?? []
    entries.push(binding)
    this.bound.set(chosen, entries)
    return chosen
  }

  release(host: string, port: number): void {
    const entries = this.bound.get(port)
    if (entries === undefined) return
    const index = entries.findIndex((b) => b.host === host)
    if (index >= 0) entries.splice(index, 1)
    if (entries.length === 0) this.bound.delete(port)
  }

  // Ports are handed out per host in order from 49152 (the IANA dynamic
  // range), wrapping, so a program's ports are the same on every run.
  private ephemeral(binding: Binding): number | undefined {
    const first = 49152
    const count = 65536 - first
    const start = this.nextEphemeral.get(binding.host) ?? first
    for (let i = 0; i < count; i++) {
      const port = first + ((start - first + i) % count)
      if (!this.inUse({ ...binding, reuse: false }, port)) {
        this.nextEphemeral.set(binding.host, port + 1 > 65535 ? first : port + 1)
        return port
      }
    }
    return undefined
  }
}

/**
 * Something that holds traffic in flight: a TCP pipe or the UDP fabric.
 * `settle` delivers what has arrived by `now`; the simulation is lazy, so
 * every observation (and every change of the links) settles first.
 *
 * @internal
 */
export interface Carrier {
  settle(now: number): void
  nextArrival(): number | undefined
}

/**
 * A roll that decides once per rule and remembers: a connection is either
 * hit by a link's faults or not, for as long as the rule stands.
 *
 * @internal
 */
export const rollOnce = (random: Random): Roll => {
  const decided = new Map<number, boolean>()
  return (rule) => {
    const known = decided.get(rule.generation)
    if (known !== undefined) return known
    const hit = random.chance(rule.toxicity)
    decided.set(rule.generation, hit)
    return hit
  }
}

const linkKey = (from: string, to: string) => `${from}>${to}`

/**
 * The state of the simulated network: links, faults, ports, the random
 * source, and the registry of everything that carries traffic.
 *
 * @internal
 */
export class World {
  readonly random: Random
  readonly signal = new Signal()
  readonly tcpPorts = new Ports()
  readonly udpPorts = new Ports()
  readonly carriers = new Set<Carrier>()
  private globalFaults: Faults = {}
  private globalShape: Fault.Shape = Fault.none
  private readonly linkRules = new Map<string, LinkRule>()
  private readonly partitioned = new Set<string>()
  private readonly held = new Set<string>()
  private readonly linkFreeAt = new Map<string, number>()
  private generation = 0

  constructor(seed: number, private readonly names: ReadonlyMap<string, ReadonlyArray<string>>) {
    this.random = new Random(seed)
  }

  /** The IPs a host (literal or name) stands for; `undefined` when it does not resolve. */
  resolve(host: string): ReadonlyArray<string> | undefined {
    if (familyOf(host) !== undefined) return [canonical(host)]
    const name = nameKey(host)
    return this.names.get(name) ?? (name === "localhost" ? defaultLocalhost : undefined)
  }

  settleAll(now: number): void {
    for (const carrier of this.carriers) carrier.settle(now)
  }

  setFaults(faults: Faults): void {
    this.globalFaults = faults
    this.globalShape = Fault.shape(faults)
    this.signal.notify()
  }

  setLinkFaults(from: string, to: string, faults: Faults, toxicity: number): void {
    this.linkRules.set(linkKey(from, to), { faults, toxicity, generation: ++this.generation })
    this.signal.notify()
  }

  clearLinkFaults(from: string, to: string): void {
    this.linkRules.delete(linkKey(from, to))
    this.signal.notify()
  }

  /** The faults traffic from `from` to `to` meets now. */
  faults(from: string, to: string, roll: Roll): Fault.Shape {
    const rule = this.linkRules.get(linkKey(from, to))
    return rule === undefined || !roll(rule)
      ? this.globalShape
      : Fault.shape(Fault.override(this.globalFaults, rule.faults))
  }

  partition(a: string, b: string, partitioned: boolean): void {
    for (const key of [linkKey(a, b), linkKey(b, a)]) {
      if (partitioned) this.partitioned.add(key)
      else this.partitioned.delete(key)
    }
    this.signal.notify()
  }

  isPartitioned(from: string, to: string): boolean {
    return this.partitioned.has(linkKey(from, to))
  }

  hold(from: string, to: string, held: boolean): void {
    if (held) this.held.add(linkKey(from, to))
    else this.held.delete(linkKey(from, to))
    this.signal.notify()
  }

  isHeld(from: string, to: string): boolean {
    return this.held.has(linkKey(from, to))
  }

  /**
   * When `size` bytes sent now over `from → to` arrive: queued behind
   * earlier traffic of the link at its bandwidth, then latency plus jitter.
   */
  arrival(from: string, to: string, size: number, now: number, faults: Fault.Shape): number {
    let sent = now
    if (Number.isFinite(faults.bandwidth)) {
      const key = linkKey(from, to)
      sent = Math.max(now, this.linkFreeAt.get(key) ?? now) + (size * 1000) / faults.bandwidth
      this.linkFreeAt.set(key, sent)
    }
    // Arrivals fall on whole milliseconds, so that the Clock can hit them
    // exactly (TestClock steps and sleeps are in milliseconds).
    return Math.ceil(sent + faults.latency + (faults.jitter > 0 ? this.random.next() * faults.jitter : 0))
  }
}
