import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { SocketAddress } from "../../Address.js"
import { familyOf, format } from "../../Address.js"
import type { AddressError, BindError, ConnectError } from "../../NetError.js"
import type { Packet, UdpSocketInfo } from "../../TestNetwork.js"
import type { UdpBindOptions, UdpConnectOptions, UdpSocket } from "../../Udp.js"
import * as Front from "../shared/udp.js"
import type { Destination, Inbox, UdpBackend, UdpSocketBackend } from "../shared/udpBackend.js"
import { systemError } from "./errors.js"
import type { Carrier, World } from "./world.js"
import { canonical, isMapped, isWildcard, preferred, reaches, seenBy, wireHost } from "./world.js"

const encoder = new TextEncoder()

interface InFlight {
  seq: number
  arrival: number
  /** Held back by `reorder` until a later datagram of its flow passes it. */
  deferred: boolean
  readonly sender: Socket
  /** Wire addresses (see `wireHost`): a receiver sees `from` in its own family. */
  readonly from: SocketAddress
  readonly to: SocketAddress
  readonly payload: Uint8Array
}

const address = (host: string, port: number): SocketAddress => ({ family: familyOf(host) ?? "IPv4", host, port })

const loopback = (family: "IPv4" | "IPv6") => (family === "IPv6" ? "::1" : "127.0.0.1")

/** A simulated socket: the backend the shared front builds `UdpSocket` on. */
class Socket implements UdpSocketBackend {
  closed = false
  peer: SocketAddress | undefined = undefined
  /** An ICMP port unreachable waiting to be reported (connected sockets only). */
  refused = false
  readonly groups = new Set<string>()

  constructor(
    private readonly fabric: UdpFabric,
    readonly address: SocketAddress,
    /** The host datagrams reach it by (see `wireHost`). */
    readonly wire: string,
    readonly inbox: Inbox
  ) {}

  hears(from: SocketAddress): boolean {
    return this.peer === undefined || (this.peer.host === from.host && this.peer.port === from.port)
  }

  atNow<A, E>(step: (now: number) => Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.clockWith((clock) => {
      const now = clock.unsafeCurrentTimeMillis()
      this.fabric.settle(now)
      return step(now)
    })
  }

  wait<A, E>(ready: () => boolean, next: () => Effect.Effect<A, E>, deadline = Infinity): Effect.Effect<A, E> {
    const fabric = this.fabric
    return Effect.flatMap(
      Effect.clockWith((clock) =>
        fabric.world.signal.await<void, never>(clock, (now) => {
          fabric.settle(now)
          if (ready() || this.refused || now >= deadline) return Exit.void
          // Woken by the next arrival or the deadline, whichever comes first.
          const wakeAt = Math.min(fabric.nextArrival() ?? Infinity, deadline)
          return Number.isFinite(wakeAt) ? wakeAt : null
        })
      ),
      next
    )
  }

  /** A connected socket's peer answered with ICMP port unreachable, which the kernel reports to the next send or receive. */
  takeFailure(): { readonly cause: unknown } | undefined {
    if (!this.refused) return undefined
    this.refused = false
    return { cause: { code: "ECONNREFUSED", syscall: "recvmsg" } }
  }

  toBytes(payload: Uint8Array | string): Uint8Array {
    return typeof payload === "string" ? encoder.encode(payload) : payload.slice()
  }

  transmit(bytes: Uint8Array, to: Destination | undefined, now: number, done: (cause?: unknown) => void): void {
    const target = to ?? this.peer!
    const wireTarget = address(wireHost(canonical(target.host)), target.port)
    // Datagrams leave from a concrete address even on a wildcard socket: the
    // loopback address the route to a local destination uses.
    const source = isWildcard(this.wire)
      ? address(loopback(wireTarget.family), this.address.port)
      : address(this.wire, this.address.port)
    // As Linux: an IPv6 source cannot reach an IPv4-mapped destination, an
    // IPv4-mapped source cannot reach an IPv6 one.
    if (source.family !== wireTarget.family) {
      return done({ code: wireTarget.family === "IPv4" ? "ENETUNREACH" : "EAFNOSUPPORT", syscall: "send" })
    }
    this.fabric.send(this, source, wireTarget, bytes, now)
    done()
  }

  connect(peer: SocketAddress): Effect.Effect<void, ConnectError> {
    return Effect.sync(() => {
      this.peer = peer
    })
  }

  join(group: string): void {
    this.groups.add(canonical(group))
  }

  leave(group: string): void {
    this.groups.delete(canonical(group))
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.closed) return
      this.closed = true
      this.fabric.sockets.delete(this)
      this.fabric.world.udpPorts.release(this.wire, this.address.port)
      this.fabric.world.signal.notify()
    })
  }
}

const isMulticast = (host: string): boolean => Front.isMulticastGroup(host, familyOf(host))

const order = (a: InFlight, b: InFlight) => a.arrival - b.arrival || a.seq - b.seq

/**
 * The UDP half of the simulated network: bound sockets and every datagram
 * in flight, delivered in arrival order when the simulation settles.
 *
 * @internal
 */
export class UdpFabric implements Carrier {
  readonly sockets = new Set<Socket>()
  private queue: Array<InFlight> = []
  private seq = 0
  readonly backend: UdpBackend = simulated(this)

  constructor(readonly world: World) {
    world.carriers.add(this)
  }

  private held(datagram: InFlight): boolean {
    return this.world.isHeld(datagram.from.host, datagram.to.host)
  }

  settle(now: number): void {
    if (this.queue.length === 0 || this.queue[0].arrival > now) return
    const waiting: Array<InFlight> = []
    let delivered = false
    for (const datagram of this.queue) {
      if (datagram.arrival > now || this.held(datagram)) waiting.push(datagram)
      else {
        this.deliver(datagram)
        delivered = true
      }
    }
    this.queue = waiting
    if (delivered) this.world.signal.notify()
  }

  nextArrival(): number | undefined {
    return this.queue.find((datagram) => !this.held(datagram))?.arrival
  }

  /** The sockets a datagram to `to` reaches: group members, or the most specific bind. */
  private receivers(to: SocketAddress): Array<Socket> {
    const bound = Array.from(this.sockets).filter((socket) => socket.address.port === to.port)
    if (isMulticast(to.host)) return bound.filter((socket) => socket.groups.has(to.host))
    const exact = bound.filter((socket) => socket.wire === to.host)
    const matching = exact.length > 0
      ? exact
      : bound.filter((socket) => reaches({ host: socket.wire, v6Only: false }, to.host))
    // With address reuse, unicast goes to the socket bound last, as on Linux.
    return matching.slice(-1)
  }

  private deliver(datagram: InFlight): void {
    if (this.world.isPartitioned(datagram.from.host, datagram.to.host)) return
    const receivers = this.receivers(datagram.to)
    if (receivers.length === 0) {
      // Port unreachable: only a connected socket hears of it.
      if (!datagram.sender.closed && datagram.sender.peer !== undefined) datagram.sender.refused = true
      return
    }
    for (const socket of receivers) {
      const from = seenBy(socket.address.family, datagram.from)
      if (socket.hears(from)) socket.inbox.offer({ payload: datagram.payload, from })
    }
  }

  /** Sends from and to wire addresses. */
  send(sender: Socket, source: SocketAddress, to: SocketAddress, payload: Uint8Array, now: number): void {
    const world = this.world
    const from = source.host
    if (world.isPartitioned(from, to.host)) return
    const faults = world.faults(from, to.host, (rule) => world.random.chance(rule.toxicity))
    if (world.random.chance(faults.drop)) return
    const datagram: InFlight = {
      seq: this.seq++,
      arrival: world.arrival(from, to.host, payload.length, now, faults),
      deferred: false,
      sender,
      from: source,
      to,
      payload
    }
    // A datagram of this flow that was held back is passed by this one and
    // arrives right after it.
    let overtook = false
    for (const earlier of this.queue) {
      if (
        earlier.deferred && earlier.sender === sender && earlier.to.host === to.host && earlier.to.port === to.port &&
        earlier.arrival > datagram.arrival
      ) {
        earlier.deferred = false
        earlier.arrival = datagram.arrival
        earlier.seq = datagram.seq + 0.5
        overtook = true
      }
    }
    const copies = world.random.chance(faults.duplicate) ? [datagram, { ...datagram, seq: this.seq++ }] : [datagram]
    // Held back (one swap at a time: not the one that just overtook) for at
    // most one more latency, 1 ms at least, unless a later datagram passes it.
    if (world.random.chance(faults.reorder) && !overtook) {
      datagram.deferred = true
      datagram.arrival += Math.max(1, faults.latency)
    }
    this.queue.push(...copies)
    this.queue.sort(order)
    world.signal.notify()
  }

  info(): Array<UdpSocketInfo> {
    return Array.from(this.sockets, (socket) => ({
      host: socket.wire,
      address: socket.address,
      ...(socket.peer === undefined ? {} : { remoteAddress: socket.peer }),
      queued: socket.inbox.size,
      dropped: socket.inbox.dropped
    }))
  }

  packets(): Array<Packet> {
    return this.queue.map((datagram) => ({
      protocol: "udp",
      kind: "data",
      from: datagram.from,
      to: datagram.to,
      payload: datagram.payload,
      arrival: datagram.arrival,
      held: this.held(datagram)
    }))
  }
}

/** The simulated network's UDP for the shared front. */
const simulated = (fabric: UdpFabric): UdpBackend => ({
  lookup: (host, family) => {
    const ips = fabric.world.resolve(host)
    // A name is looked up in the family asked for, as NodeNetwork does: none
    // there is a name that does not resolve. A literal stands for itself.
    const ip = ips === undefined ? undefined : familyOf(host) !== undefined ? ips[0] : preferred(ips, family)
    return ip === undefined ? Effect.fail({ code: "ENOTFOUND", syscall: "getaddrinfo" }) : Effect.succeed(ip)
  },
  // A connect to an IPv4-mapped peer binds the IPv4 loopback, mapped, which can reach it.
  defaultConnectHost: (peer) => isMapped(peer.host) ? "::ffff:127.0.0.1" : undefined,
  open: (settings, inbox) =>
    Effect.suspend(() => {
      const binding = { host: wireHost(settings.host), reuse: settings.reuseAddress, v6Only: false }
      const bound = fabric.world.udpPorts.take(binding, settings.port)
      if (bound === undefined) {
        const where = format({ host: settings.host, port: settings.port })
        return Effect.fail(systemError("BindError", { code: "EADDRINUSE", syscall: "bind" }, "bind to", where))
      }
      const socket = new Socket(fabric, address(settings.host, bound), binding.host, inbox)
      fabric.sockets.add(socket)
      return Effect.succeed(socket)
    })
})

/** @internal */
export const bind = (
  fabric: UdpFabric,
  options: UdpBindOptions
): Effect.Effect<UdpSocket, BindError | AddressError, Scope.Scope> => Front.bind(fabric.backend, options)

/** @internal */
export const connect = (
  fabric: UdpFabric,
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Scope.Scope> => Front.connect(fabric.backend, options)
