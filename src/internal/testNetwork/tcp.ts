import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import type { Family, SocketAddress } from "../../Address.js"
import { familyOf, format } from "../../Address.js"
import type { AddressError, BindError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import type { ConnectOptions, ListenOptions } from "../../Tcp.js"
import type { Packet, TcpConnectionInfo, TcpListenerInfo } from "../../TestNetwork.js"
import * as Front from "../shared/tcp.js"
import { closedForWriting, localAddressNotAnIp } from "../shared/tcp.js"
import type * as Backend from "../shared/tcpBackend.js"
import { fiberClock } from "../shared/time.js"
import { systemError } from "./errors.js"
import type * as Fault from "./faults.js"
import type { Binding, Carrier, Roll, World } from "./world.js"
import { isMapped, preferred, reaches, rollOnce, seenBy, wireHost } from "./world.js"

/** Bytes a direction holds in flight plus unread before `send` waits: a socket buffer. */
const window = 64 * 1024

/** How long the kernel retries an unanswered SYN (Linux, tcp_syn_retries = 6). */
const synTimeout = 127_000

const encoder = new TextEncoder()

type Segment =
  | { readonly kind: "data"; readonly bytes: Uint8Array; readonly arrival: number }
  | { readonly kind: "fin"; readonly arrival: number }
  | { readonly kind: "rst"; readonly arrival: number }

/**
 * One direction of a connection: segments in flight (in order, each with
 * its arrival time), then bytes delivered and not yet read, then how the
 * direction ended.
 */
class Pipe implements Carrier {
  readonly inFlight: Array<Segment> = []
  delivered: Array<Uint8Array> = []
  deliveredBytes = 0
  inFlightBytes = 0
  end: "open" | "fin" | "rst" = "open"
  private lastArrival = 0
  private sentBytes = 0

  constructor(
    readonly world: World,
    readonly connection: Connection,
    readonly from: SocketAddress,
    readonly to: SocketAddress,
    readonly roll: Roll
  ) {}

  faults(): Fault.Shape {
    return this.world.faults(this.from.host, this.to.host, this.roll)
  }

  blocked(): boolean {
    return this.world.isHeld(this.from.host, this.to.host) ||
      this.world.isPartitioned(this.from.host, this.to.host) ||
      this.faults().stall
  }

  /** The endpoint that reads this direction. */
  reader(): Endpoint {
    return this.connection.client.inbound === this ? this.connection.client : this.connection.server
  }

  private push(segment: Segment): void {
    this.inFlight.push(segment)
    this.lastArrival = segment.arrival
    if (segment.kind === "data") this.inFlightBytes += segment.bytes.length
    this.world.signal.notify()
  }

  /** TCP keeps order: nothing arrives before what was sent earlier. */
  private arrivalOf(size: number, now: number, faults: Fault.Shape): number {
    return Math.max(this.lastArrival, this.world.arrival(this.from.host, this.to.host, size, now, faults))
  }

  room(): number {
    return window - this.inFlightBytes - this.deliveredBytes
  }

  /**
   * Queues bytes, sliced and timed by the faults. Returns false when
   * `resetAfterBytes` cut them short and reset the connection.
   */
  write(bytes: Uint8Array, now: number): boolean {
    const faults = this.faults()
    const allowed = Math.max(0, faults.resetAfterBytes - this.sentBytes)
    const sent = bytes.length > allowed ? bytes.subarray(0, allowed) : bytes
    this.sentBytes += sent.length
    for (let offset = 0; offset < sent.length; offset += faults.sliceBytes) {
      // A copy, also of a Node Buffer (whose own `slice` is a view): the peer
      // gets bytes of its own, as over a real network, never a view of the
      // sender's memory that a later write to it would change.
      const slice = Uint8Array.prototype.slice.call(sent, offset, Math.min(sent.length, offset + faults.sliceBytes))
      this.push({ kind: "data", bytes: slice, arrival: this.arrivalOf(slice.length, now, faults) })
    }
    if (sent.length < bytes.length) {
      this.connection.reset(now)
      return false
    }
    return true
  }

  fin(now: number): void {
    const faults = this.faults()
    this.push({ kind: "fin", arrival: this.arrivalOf(0, now, faults) + faults.slowClose })
  }

  rst(now: number): void {
    this.push({ kind: "rst", arrival: Math.max(this.lastArrival, now) })
  }

  settle(now: number): void {
    if (this.inFlight.length === 0 || this.inFlight[0].arrival > now || this.blocked()) return
    const reader = this.reader()
    while (this.inFlight.length > 0 && this.inFlight[0].arrival <= now) {
      const segment = this.inFlight.shift()!
      if (segment.kind === "data") {
        this.inFlightBytes -= segment.bytes.length
        // Data for a socket that is gone is answered with a reset, as a
        // kernel does.
        if (reader.closed) this.connection.reset(now)
        else {
          this.delivered.push(segment.bytes)
          this.deliveredBytes += segment.bytes.length
        }
      } else if (this.end === "open") {
        // Once EOF was seen a later reset does not change what reads see.
        // A reset fails the reads once the bytes before it are read, as on
        // NodeNetwork, even when it finds them unread.
        this.end = segment.kind
      }
    }
    this.world.signal.notify()
  }

  nextArrival(): number | undefined {
    return this.inFlight.length === 0 || this.blocked() ? undefined : this.inFlight[0].arrival
  }

  /** Takes delivered bytes: one chunk, or all of them. */
  take(all: boolean): Array<Uint8Array> {
    const taken = all ? this.delivered : this.delivered.slice(0, 1)
    this.delivered = all ? [] : this.delivered.slice(1)
    for (const chunk of taken) this.deliveredBytes -= chunk.length
    // The sender may be waiting for room in the window.
    if (taken.length > 0) this.world.signal.notify()
    return taken
  }

  packets(): Array<Packet> {
    const held = this.blocked()
    return this.inFlight.map((segment) => ({
      protocol: "tcp",
      kind: segment.kind,
      from: this.from,
      to: this.to,
      payload: segment.kind === "data" ? segment.bytes : new Uint8Array(0),
      arrival: segment.arrival,
      held
    }))
  }
}

/**
 * One side of a connection, the backend of a `TcpConnection`. Its steps read
 * the time from `time`: the Clock of the fiber that connected (or, on the
 * server side, that listened), which is the simulation's time.
 */
class Endpoint implements Backend.TcpConnectionBackend {
  closed = false
  writeEnded = false
  writeReset = false
  /** Set by the first read; see `closeNow`. */
  reading = false
  private owner: Backend.TcpConnectionOwner | undefined = undefined

  constructor(
    readonly connection: Connection,
    readonly localAddress: SocketAddress,
    readonly remoteAddress: SocketAddress,
    readonly inbound: Pipe,
    readonly outbound: Pipe,
    readonly ownsPort: boolean,
    public time: Clock.Clock
  ) {}

  state(): TcpConnectionInfo["state"] {
    if (this.writeReset) return "Reset"
    const peerEnded = this.inbound.end === "fin"
    return this.writeEnded ? (peerEnded ? "Closing" : "FinWait") : peerEnded ? "CloseWait" : "Established"
  }

  get clock() {
    return fiberClock
  }

  private get signal() {
    return this.connection.stack.world.signal
  }

  private get peer(): string {
    return format(this.remoteAddress)
  }

  attach(owner: Backend.TcpConnectionOwner): void {
    this.owner = owner
  }

  /** Run by `closeNow`, once. */
  released(): void {
    this.owner?.backendClosed()
  }

  private readReset(): ReadError {
    return systemError("ReadError", { code: "ECONNRESET", syscall: "read" }, "read from", this.peer)
  }

  private writeResetError(): WriteError {
    return systemError("WriteError", { code: "ECONNRESET", syscall: "write" }, "write to", this.peer)
  }

  take(all: boolean): Backend.Taken<Uint8Array | Array<Uint8Array>> {
    if (this.closed) return null
    this.reading = true
    this.connection.settle(this.time.unsafeCurrentTimeMillis())
    const chunks = this.inbound.take(all)
    if (chunks.length > 0) return all ? chunks : chunks[0]
    switch (this.inbound.end) {
      case "fin":
        return null
      case "rst":
        return this.readReset()
      case "open":
        return undefined
    }
  }

  awaitReadable<A, E>(next: () => Effect.Effect<A, E>): Effect.Effect<A, E> {
    const readable = this.signal.await<void, never>(this.time, (now) => {
      if (this.closed) return Exit.void
      this.connection.settle(now)
      if (this.inbound.delivered.length > 0 || this.inbound.end !== "open") return Exit.void
      return this.connection.nextArrival() ?? null
    })
    return Effect.zipRight(readable, Effect.suspend(next))
  }

  /** Why nothing more can be written, after settling what arrived by `now`. */
  private writeBlocked(now: number): WriteError | undefined {
    this.connection.settle(now)
    if (this.writeReset) return this.writeResetError()
    if (this.closed || this.writeEnded) return closedForWriting(this.peer)
    return undefined
  }

  /** Moves as much of `data[offset..]` as the window has room for into the outbound pipe. */
  write(data: Uint8Array | string, offset: number): Backend.Written {
    const now = this.time.unsafeCurrentTimeMillis()
    const blocked = this.writeBlocked(now)
    if (blocked !== undefined) return blocked
    const bytes = typeof data === "string" ? encoder.encode(data) : data
    if (bytes.length === 0) return true
    const room = this.outbound.room()
    if (room <= 0) return offset
    const end = Math.min(bytes.length, offset + room)
    if (!this.outbound.write(bytes.subarray(offset, end), now)) return this.writeResetError()
    return end === bytes.length ? true : end
  }

  get awaitWritable(): Effect.Effect<void, WriteError> {
    return this.signal.await(this.time, (now) => {
      const blocked = this.writeBlocked(now)
      if (blocked !== undefined) return Exit.fail(blocked)
      if (this.outbound.room() > 0) return Exit.void
      return this.connection.nextArrival() ?? null
    })
  }

  get endWrite(): Effect.Effect<void, WriteError> {
    return Effect.suspend(() => {
      const now = this.time.unsafeCurrentTimeMillis()
      this.connection.settle(now)
      if (this.writeReset) return Effect.fail(this.writeResetError())
      if (this.writeEnded) return Effect.void
      if (this.closed) return Effect.fail(closedForWriting(this.peer))
      this.writeEnded = true
      this.outbound.fin(now)
      return Effect.void
    })
  }

  /** The simulated kernel resets on its own terms (see `closeNow`): the Proxy's reset closes. */
  reset(): void {}

  get close(): Effect.Effect<void> {
    return Effect.sync(() => closeNow(this, this.time.unsafeCurrentTimeMillis()))
  }
}

class Connection {
  readonly toServer: Pipe
  readonly toClient: Pipe
  readonly client: Endpoint
  readonly server: Endpoint

  /**
   * `client` and `server` are where the packets travel between (wire
   * addresses); each side names both ends in its own family (`seenBy`).
   */
  constructor(
    readonly stack: TcpStack,
    client: SocketAddress,
    server: SocketAddress,
    clientRoll: Roll,
    views: { readonly clientFamily: Family; readonly serverFamily: Family; readonly target: SocketAddress },
    time: Clock.Clock
  ) {
    const world = stack.world
    this.toServer = new Pipe(world, this, client, server, clientRoll)
    this.toClient = new Pipe(world, this, server, client, rollOnce(world.random))
    this.client = new Endpoint(this, seenBy(views.clientFamily, client), views.target, this.toClient, this.toServer, true, time)
    this.server = new Endpoint(
      this,
      seenBy(views.serverFamily, server),
      seenBy(views.serverFamily, client),
      this.toServer,
      this.toClient,
      false,
      time
    )
    world.carriers.add(this.toServer)
    world.carriers.add(this.toClient)
    stack.connections.add(this)
  }

  settle(now: number): void {
    this.toServer.settle(now)
    this.toClient.settle(now)
  }

  nextArrival(): number | undefined {
    const a = this.toServer.nextArrival()
    const b = this.toClient.nextArrival()
    return a === undefined ? b : b === undefined ? a : Math.min(a, b)
  }

  /** Both sides get a reset after whatever was already sent to them. */
  reset(now: number): void {
    for (const endpoint of [this.client, this.server]) {
      if (endpoint.writeReset) continue
      endpoint.writeReset = true
      endpoint.inbound.rst(now)
    }
  }

  /** Frees what a closed side held; the connection leaves the network once both sides are closed. */
  release(endpoint: Endpoint): void {
    this.stack.endpoints.delete(endpoint)
    if (endpoint.ownsPort) this.stack.world.tcpPorts.release(endpoint.inbound.to.host, endpoint.inbound.to.port)
    if (this.client.closed && this.server.closed) {
      this.stack.world.carriers.delete(this.toServer)
      this.stack.world.carriers.delete(this.toClient)
      this.stack.connections.delete(this)
    }
    this.stack.world.signal.notify()
  }
}

class Listener {
  closed = false
  readonly pending: Array<{ readonly endpoint: Endpoint; readonly arrival: number }> = []

  /** `binding.host` is the host connections reach it by (see `wireHost`). */
  constructor(readonly address: SocketAddress, readonly binding: Binding, readonly backlog: number) {}
}

/**
 * The TCP half of the simulated network: listeners by port and the open
 * connection endpoints (what a snapshot lists).
 *
 * @internal
 */
export class TcpStack {
  readonly listeners = new Set<Listener>()
  readonly endpoints = new Set<Endpoint>()
  readonly connections = new Set<Connection>()

  readonly backend: Backend.TcpBackend = {
    clock: fiberClock,
    listen: (settings) => listenBackend(this, settings),
    connect: (settings) => connectBackend(this, settings)
  }

  constructor(readonly world: World) {}

  /** The listener a SYN to `host:port` (a wire host) reaches: an exact bind wins over a wildcard. */
  find(host: string, port: number): Listener | undefined {
    let wildcard: Listener | undefined
    for (const listener of this.listeners) {
      if (listener.address.port !== port) continue
      if (listener.binding.host === host) return listener
      if (reaches(listener.binding, host)) wildcard = listener
    }
    return wildcard
  }

  listenerInfo(): Array<TcpListenerInfo> {
    return Array.from(this.listeners, (listener) => ({
      host: listener.binding.host,
      address: listener.address,
      pending: listener.pending.length
    }))
  }

  connectionInfo(): Array<TcpConnectionInfo> {
    return Array.from(this.endpoints, (endpoint) => ({
      host: endpoint.inbound.to.host,
      localAddress: endpoint.localAddress,
      remoteAddress: endpoint.remoteAddress,
      state: endpoint.state(),
      unread: endpoint.inbound.deliveredBytes,
      inFlight: endpoint.outbound.inFlightBytes
    }))
  }

  packets(): Array<Packet> {
    return Array.from(this.connections, (connection) => [
      ...connection.toServer.packets(),
      ...connection.toClient.packets()
    ]).flat()
  }
}

const address = (host: string, port: number): SocketAddress => ({
  family: familyOf(host) ?? "IPv4",
  host,
  port
})

/**
 * Closes one side: FIN after what was sent, or a reset when received bytes
 * are still in the kernel, as Linux does. A side that has started reading
 * has had them read ahead out of the kernel (NodeNetwork reads up to 64 KiB
 * ahead, all a direction holds here), so only a side that never read resets.
 */
const closeNow = (endpoint: Endpoint, now: number): void => {
  if (endpoint.closed) return
  endpoint.connection.settle(now)
  endpoint.closed = true
  if (endpoint.inbound.deliveredBytes > 0 && !endpoint.reading) endpoint.connection.reset(now)
  else if (!endpoint.writeEnded && !endpoint.writeReset) endpoint.outbound.fin(now)
  endpoint.inbound.take(true)
  endpoint.connection.release(endpoint)
  endpoint.released()
}

/** The simulated kernel's listen: `settings` checked by the front. */
const listenBackend = (
  stack: TcpStack,
  settings: Backend.ListenSettings
): Effect.Effect<Backend.TcpListenerBackend, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const { port } = settings
    const ips = stack.world.resolve(settings.host)
    if (ips === undefined) {
      const where = format({ host: settings.host, port })
      return yield* systemError("AddressError", { code: "ENOTFOUND", syscall: "getaddrinfo" }, "resolve", where)
    }
    const host = preferred(ips)!
    if (settings.ipv6Only && isMapped(host)) {
      // Linux refuses an IPv4-mapped address on an IPv6-only socket.
      const where = format({ host, port })
      return yield* systemError("BindError", { code: "EINVAL", syscall: "listen" }, "listen on", where)
    }
    const binding: Binding = {
      host: wireHost(host),
      reuse: false,
      v6Only: settings.ipv6Only && familyOf(host) === "IPv6"
    }
    const listener = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const bound = stack.world.tcpPorts.take(binding, port)
        if (bound === undefined) {
          const where = format({ host, port })
          return Effect.fail(systemError("BindError", { code: "EADDRINUSE", syscall: "listen" }, "listen on", where))
        }
        const listener = new Listener(address(host, bound), binding, settings.backlog)
        stack.listeners.add(listener)
        return Effect.succeed(listener)
      }),
      (listener) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const now = clock.unsafeCurrentTimeMillis()
            listener.closed = true
            stack.listeners.delete(listener)
            stack.world.tcpPorts.release(listener.binding.host, listener.address.port)
            // Connections nobody accepted are closed, as NodeNetwork's
            // listener (which has accepted them from the kernel) does.
            for (const { endpoint } of listener.pending.splice(0)) closeNow(endpoint, now)
            stack.world.signal.notify()
          })
        )
    )
    const signal = stack.world.signal
    const time = yield* Effect.clock
    /** Hands the pending connection at `index` (arrived by now) to `claim`; false when refused. */
    const claimAt = (index: number, claim: Backend.Claim): boolean => {
      const { endpoint } = listener.pending[index]
      // Its reads and writes run on the Clock of the side that uses it.
      endpoint.time = time
      if (!claim(endpoint)) return false
      listener.pending.splice(index, 1)
      if (!endpoint.closed) stack.endpoints.add(endpoint)
      signal.notify()
      return true
    }
    return {
      address: listener.address,
      take: (claim) =>
        signal.await(time, (now): Exit.Exit<Backend.TcpConnectionBackend, "closed"> | number | null => {
          if (listener.closed) return Exit.fail("closed")
          const index = listener.pending.findIndex((entry) => entry.arrival <= now)
          if (index < 0) return listener.pending.length === 0 ? null : Math.min(...listener.pending.map((e) => e.arrival))
          const { endpoint } = listener.pending[index]
          return claimAt(index, claim) ? Exit.succeed(endpoint) : Exit.fail("closed")
        }),
      takeReady: (claim) => {
        if (listener.closed) return
        const now = time.unsafeCurrentTimeMillis()
        for (let index = 0; index < listener.pending.length;) {
          if (listener.pending[index].arrival > now || !claimAt(index, claim)) index++
        }
      }
    } satisfies Backend.TcpListenerBackend
  })

/** The simulated kernel's connect: `settings` checked by the front. */
const connectBackend = (
  stack: TcpStack,
  settings: Backend.ConnectSettings
): Effect.Effect<Backend.TcpConnectionBackend, ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const { port } = settings
    const localText = settings.localAddress
    const target = format({ host: settings.host, port })
    const failure = (code: string, syscall = "connect") => systemError("ConnectError", { code, syscall }, "connect to", target)
    const ips = stack.world.resolve(settings.host)
    if (ips === undefined) return yield* failure("ENOTFOUND", "getaddrinfo")
    const local = localText === undefined ? undefined : stack.world.resolve(localText)?.[0]
    if (localText !== undefined && (local === undefined || familyOf(localText) === undefined)) {
      return yield* localAddressNotAnIp(target, localText)
    }
    const candidates = ips.filter((ip) => local === undefined || familyOf(ip) === familyOf(local))
    if (candidates.length === 0) {
      return yield* failure("EAFNOSUPPORT")
    }
    // Like Node's autoSelectFamily: the next address when one refuses.
    const attempt = (index: number): Effect.Effect<Endpoint, ConnectError, Scope.Scope> =>
      connectTo(stack, candidates[index], port, local, settings.localPort ?? 0, failure).pipe(
        Effect.catchIf(
          (error) => error.reason === "ConnectionRefused" && index + 1 < candidates.length,
          () => attempt(index + 1)
        )
      )
    return yield* attempt(0)
  })

/** @internal */
export const listen = (stack: TcpStack, options: ListenOptions) => Front.listen(stack.backend, options)

/** @internal */
export const connect = (stack: TcpStack, options: ConnectOptions) => Front.connect(stack.backend, options)

/**
 * Connects to `target` (an IP, as the caller named it) from `localHost`
 * (default the loopback address of the target's family; for an
 * IPv4-mapped target, the IPv4 one, mapped). Packets travel between wire
 * hosts: an IPv4-mapped address is IPv4 traffic.
 */
const connectTo = (
  stack: TcpStack,
  target: string,
  port: number,
  localHost: string | undefined,
  localPort: number,
  failure: (code: string, syscall?: string) => ConnectError
): Effect.Effect<Endpoint, ConnectError, Scope.Scope> =>
  Effect.clockWith((clock) => {
    const world = stack.world
    const family = familyOf(target) ?? "IPv4"
    const host = wireHost(target)
    const wireFamily = familyOf(host)
    const localView = localHost ?? (wireFamily === "IPv6" ? "::1" : family === "IPv6" ? "::ffff:127.0.0.1" : "127.0.0.1")
    const source = wireHost(localView)
    // As Linux: an IPv6 source cannot reach an IPv4-mapped target, an
    // IPv4-mapped source cannot reach an IPv6 one.
    if (familyOf(source) !== wireFamily) {
      return Effect.fail(failure(wireFamily === "IPv4" ? "ENETUNREACH" : "EAFNOSUPPORT"))
    }
    const roll = rollOnce(world.random)
    const start = clock.unsafeCurrentTimeMillis()
    const givenUp = (now: number) => now - start >= synTimeout
    const timedOut = Exit.fail(failure("ETIMEDOUT"))
    // The SYN leaves once the link lets it through (a blocked link drops
    // it and the kernel retries until it gives up) ...
    const syn = world.signal.await(clock, (now) => {
      if (givenUp(now)) return timedOut
      const blocked = world.isHeld(source, host) || world.isPartitioned(source, host) ||
        world.faults(source, host, roll).stall
      if (blocked) return start + synTimeout
      return Exit.succeed(world.arrival(source, host, 0, now, world.faults(source, host, roll)) - now)
    })
    // ... and reaches the listener (or nothing: refused), which completes
    // the handshake ...
    const handshake = world.signal.await(
      clock,
      (now): Exit.Exit<Endpoint, ConnectError> | number | null => {
        if (givenUp(now)) return timedOut
        const listener = stack.find(host, port)
        if (world.faults(source, host, roll).refuse || listener === undefined) {
          return Exit.fail(failure("ECONNREFUSED"))
        }
        const bound = world.tcpPorts.take({ host: source, reuse: false, v6Only: false }, localPort)
        if (bound === undefined) {
          return Exit.fail(failure("EADDRINUSE", "bind"))
        }
        const connection = new Connection(stack, address(source, bound), address(host, port), roll, {
          clientFamily: family,
          serverFamily: listener.address.family,
          target: address(target, port)
        }, clock)
        // A full backlog: the connection is made and closed at once, as
        // NodeNetwork's listener does with connections beyond its backlog.
        if (listener.pending.length >= listener.backlog) closeNow(connection.server, now)
        else listener.pending.push({ endpoint: connection.server, arrival: now })
        stack.endpoints.add(connection.client)
        world.signal.notify()
        return Exit.succeed(connection.client)
      },
      (endpoint) => Effect.addFinalizer(() => endpoint.close)
    )
    // ... and the SYN-ACK travels back.
    const synAck = (endpoint: Endpoint) =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const back = world.arrival(host, source, 0, now, endpoint.inbound.faults()) - now
        return back <= 0 ? Effect.void : clock.sleep(Duration.millis(back)).pipe(Effect.onInterrupt(() => endpoint.close))
      })
    return syn.pipe(
      Effect.flatMap((delay) => delay <= 0 ? Effect.void : clock.sleep(Duration.millis(delay))),
      Effect.zipRight(handshake),
      Effect.tap(synAck)
    )
  })
