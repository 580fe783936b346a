import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { SocketAddress } from "../../Address.js"
import { familyOf, format, validateHost, validatePort } from "../../Address.js"
import { AddressError, BindError, ConnectError, MulticastError, ReceiveError, SendError } from "../../NetError.js"
import type { Datagram, UdpBindOptions, UdpConnectOptions, UdpSocket } from "../../Network.js"
import type { Packet, UdpSocketInfo } from "../../TestNetwork.js"
import { maxPayload } from "../../Udp.js"
import { invalidSend, isPayload } from "../shared/arguments.js"
import { validateUdpBindOptions } from "../shared/udpOptions.js"
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

class Socket {
  closed = false
  dropped = 0
  /** An ICMP port unreachable waiting to be reported (connected sockets only). */
  refused = false
  buffer: Array<Datagram> = []
  readonly groups = new Set<string>()

  constructor(
    readonly address: SocketAddress,
    /** The host datagrams reach it by (see `wireHost`). */
    readonly wire: string,
    readonly peer: SocketAddress | undefined,
    readonly capacity: number,
    readonly overflow: "dropNewest" | "dropOldest"
  ) {}

  hears(from: SocketAddress): boolean {
    return this.peer === undefined || (this.peer.host === from.host && this.peer.port === from.port)
  }

  enqueue(datagram: Datagram): void {
    if (this.buffer.length < this.capacity) {
      this.buffer.push(datagram)
      return
    }
    this.dropped++
    if (this.overflow === "dropOldest") {
      this.buffer.shift()
      this.buffer.push(datagram)
    }
  }
}

const isMulticast = (host: string): boolean =>
  familyOf(host) === "IPv4"
    ? Number(host.split(".")[0]) >= 224 && Number(host.split(".")[0]) <= 239
    : familyOf(host) === "IPv6" && host.toLowerCase().startsWith("ff")

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
      if (socket.hears(from)) socket.enqueue({ payload: datagram.payload, from })
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
      queued: socket.buffer.length,
      dropped: socket.dropped
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

const address = (host: string, port: number): SocketAddress => ({ family: familyOf(host) ?? "IPv4", host, port })

const loopback = (family: "IPv4" | "IPv6") => (family === "IPv6" ? "::1" : "127.0.0.1")

const closeSocket = (fabric: UdpFabric, socket: Socket): Effect.Effect<void> =>
  Effect.sync(() => {
    if (socket.closed) return
    socket.closed = true
    socket.buffer = []
    fabric.sockets.delete(socket)
    fabric.world.udpPorts.release(socket.wire, socket.address.port)
    fabric.world.signal.notify()
  })

const open = (
  fabric: UdpFabric,
  options: UdpBindOptions,
  familyHint: "IPv4" | "IPv6" | undefined,
  peer: SocketAddress | undefined
): Effect.Effect<Socket, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const { capacity, family, overflow, port, requested } = yield* validateUdpBindOptions(options, familyHint)
    // A connect to an IPv4-mapped peer binds the IPv4 loopback, mapped, which can reach it.
    const defaultHost = peer !== undefined && isMapped(peer.host) ? "::ffff:127.0.0.1" : loopback(family)
    const ips = requested === undefined ? [defaultHost] : fabric.world.resolve(requested)
    // A name is looked up in the socket's family, as NodeNetwork does: none
    // there is a name that does not resolve.
    const isName = requested !== undefined && familyOf(requested) === undefined
    if (ips === undefined || (isName && preferred(ips, family) === undefined)) {
      return yield* systemError("AddressError", { code: "ENOTFOUND", syscall: "getaddrinfo" }, "resolve", requested)
    }
    const host = preferred(ips, family) ?? ips[0]
    const where = format({ host, port })
    if (familyOf(host) !== family) {
      return yield* new AddressError({
        reason: "InvalidHost",
        message: `bind to ${where} failed: ${host} is not an ${family} address`,
        address: where
      })
    }
    return yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const binding = { host: wireHost(host), reuse: options.reuseAddress === true, v6Only: false }
        const bound = fabric.world.udpPorts.take(binding, port)
        if (bound === undefined) {
          return Effect.fail(systemError("BindError", { code: "EADDRINUSE", syscall: "bind" }, "bind to", where))
        }
        const socket = new Socket(address(host, bound), binding.host, peer, capacity, overflow)
        fabric.sockets.add(socket)
        return Effect.succeed(socket)
      }),
      (socket) => closeSocket(fabric, socket)
    )
  })

const makeSocket = (fabric: UdpFabric, socket: Socket): UdpSocket => {
  const world = fabric.world
  const here = format(socket.address)
  // The peer of a connected socket, else the socket itself: what a failure
  // reported by the kernel for no one destination is about.
  const where = () => socket.peer === undefined ? here : format(socket.peer)
  const invalidDestination = (to: string, why: string) =>
    new SendError({ reason: "InvalidAddress", message: `send to ${to} failed: ${why}`, address: to })
  const closedSend = () =>
    new SendError({ reason: "Closed", message: `send from ${here} failed: the socket is closed`, address: here })
  // A connected socket's peer answered with ICMP port unreachable, which
  // the kernel reports to the next send or receive.
  const refusedBy = <Step extends "SendError" | "ReceiveError">(step: Step) =>
    systemError(step, { code: "ECONNREFUSED", syscall: "recvmsg" }, step === "SendError" ? "send to" : "receive from", where())
  const maximum = maxPayload[socket.address.family]

  const destination = (
    to: SocketAddress | { readonly host: string; readonly port: number } | undefined
  ): Effect.Effect<SocketAddress, SendError> => {
    if (to === undefined) {
      return socket.peer === undefined
        ? Effect.fail(
          new SendError({
            reason: "InvalidAddress",
            message: `send from ${here} failed: the socket is not connected, so a destination is required`
          })
        )
        : Effect.succeed(socket.peer)
    }
    const target = format({ host: String(to?.host), port: to?.port })
    return Effect.gen(function*() {
      const host = yield* validateHost(to?.host)
      const port = yield* validatePort(to?.port, { allowZero: false })
      const ips = world.resolve(host)
      const notFound = () => systemError("SendError", { code: "ENOTFOUND", syscall: "getaddrinfo" }, "send to", target)
      if (ips === undefined) return yield* notFound()
      const ip = preferred(ips, socket.address.family)
      if (ip === undefined) {
        // A name is looked up in the socket's family, as NodeNetwork does:
        // none there is a name that does not resolve.
        return yield* familyOf(host) === undefined
          ? notFound()
          : invalidDestination(target, `${host} is not an ${socket.address.family} address`)
      }
      const peer = socket.peer
      if (peer !== undefined && !(peer.host === ip && peer.port === port)) {
        return yield* invalidDestination(target, `the socket is connected to ${format(peer)}`)
      }
      return address(ip, port)
    }).pipe(Effect.catchTag("AddressError", (error) => Effect.fail(invalidDestination(target, error.message))))
  }

  // Datagrams leave from a concrete address even on a wildcard socket: the
  // loopback address the route to a local destination uses.
  const sourceTo = (to: SocketAddress): SocketAddress => {
    const wireFamily = familyOf(to.host) ?? "IPv4"
    return isWildcard(socket.wire) ? address(loopback(wireFamily), socket.address.port) : address(socket.wire, socket.address.port)
  }

  const send = (
    payload: Uint8Array | string,
    to?: SocketAddress | { readonly host: string; readonly port: number }
  ): Effect.Effect<void, SendError> =>
    Effect.clockWith((clock) =>
      Effect.suspend(() => {
        if (!isPayload(payload)) return Effect.fail(invalidSend(payload, here))
        if (socket.closed) return Effect.fail(closedSend())
        fabric.settle(clock.unsafeCurrentTimeMillis())
        if (socket.refused) {
          socket.refused = false
          return Effect.fail(refusedBy("SendError"))
        }
        const bytes = typeof payload === "string" ? encoder.encode(payload) : payload.slice()
        if (bytes.length > maximum) {
          return Effect.fail(
            new SendError({
              reason: "MessageTooLarge",
              message: `send of ${bytes.length} bytes from ${here} failed: a UDP datagram over ${socket.address.family} carries at most ${maximum} bytes`,
              address: where()
            })
          )
        }
        return Effect.flatMap(destination(to), (target) =>
          Effect.suspend(() => {
            const wireTarget = address(wireHost(target.host), target.port)
            const source = sourceTo(wireTarget)
            // As Linux: an IPv6 source cannot reach an IPv4-mapped
            // destination, an IPv4-mapped source cannot reach an IPv6 one.
            if (source.family !== wireTarget.family) {
              const code = wireTarget.family === "IPv4" ? "ENETUNREACH" : "EAFNOSUPPORT"
              return Effect.fail(systemError("SendError", { code, syscall: "send" }, "send to", format(target)))
            }
            fabric.send(socket, source, wireTarget, bytes, clock.unsafeCurrentTimeMillis())
            return Effect.void
          }))
      })
    )

  const receive = <A>(take: () => A) => (clock: Clock.Clock) =>
    world.signal.await<A, Option.Option<ReceiveError>>(clock, (now) => {
      fabric.settle(now)
      if (socket.buffer.length > 0) return Exit.succeed(take())
      if (socket.closed) return Exit.fail(Option.none())
      if (socket.refused) {
        socket.refused = false
        return Exit.fail(Option.some(refusedBy("ReceiveError")))
      }
      return fabric.nextArrival() ?? null
    })

  const recv = Effect.clockWith(receive(() => socket.buffer.shift()!)).pipe(
    Effect.mapError(Option.getOrElse(() =>
      new ReceiveError({ reason: "Closed", message: `receive on ${here} failed: the socket is closed`, address: here })
    ))
  )
  const pull = Effect.clockWith(receive(() => {
    const all = socket.buffer
    socket.buffer = []
    return Chunk.unsafeFromArray(all)
  }))

  return {
    address: socket.address,
    send,
    recv,
    datagrams: Stream.repeatEffectChunkOption(pull),
    dropped: Effect.clockWith((clock) =>
      Effect.sync(() => {
        fabric.settle(clock.unsafeCurrentTimeMillis())
        return socket.dropped
      })
    ),
    joinMulticast: (group, iface) =>
      Effect.suspend(() => {
        const family = socket.address.family
        if (typeof group !== "string" || familyOf(group) !== family || !isMulticast(canonical(group))) {
          return Effect.fail(
            new MulticastError({
              reason: "InvalidGroup",
              message: `join multicast group ${String(group)} failed: not an ${family} multicast address`
            })
          )
        }
        if (iface !== undefined && familyOf(iface) !== family) {
          return Effect.fail(
            new MulticastError({
              reason: "AddressNotAvailable",
              message: `join multicast group ${group} failed: interface ${String(iface)} is not an ${family} address`
            })
          )
        }
        const key = canonical(group)
        socket.groups.add(key)
        return Effect.addFinalizer(() => Effect.sync(() => socket.groups.delete(key)))
      }),
    close: closeSocket(fabric, socket)
  }
}

/** @internal */
export const bind = (
  fabric: UdpFabric,
  options: UdpBindOptions
): Effect.Effect<UdpSocket, BindError | AddressError, Scope.Scope> =>
  Effect.map(open(fabric, options, undefined, undefined), (socket) => makeSocket(fabric, socket))

/** @internal */
export const connect = (
  fabric: UdpFabric,
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* validatePort(options.port, { allowZero: false })
    const hostText = yield* validateHost(options.host)
    const ips = fabric.world.resolve(hostText)
    const notFound = () =>
      systemError("ConnectError", { code: "ENOTFOUND", syscall: "getaddrinfo" }, "resolve", format({ host: hostText, port }))
    if (ips === undefined) return yield* notFound()
    // The peer's address is looked up in the family of the bind host, if
    // any, an IPv4 one first, as NodeNetwork does.
    const bindFamily = typeof options.bind?.host === "string" ? familyOf(options.bind.host) : undefined
    const ip = preferred(ips, bindFamily)
    if (ip === undefined) return yield* notFound()
    const peer = address(ip, port)
    const socket = yield* open(fabric, {
      ...options.bind,
      receiveBufferSize: options.receiveBufferSize ?? options.bind?.receiveBufferSize,
      overflow: options.overflow ?? options.bind?.overflow
    }, peer.family, peer)
    return makeSocket(fabric, socket)
  })
