import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import type { Family, SocketAddress } from "../../Address.js"
import { familyOf, format, validateHost, validatePort } from "../../Address.js"
import { AcceptError, AddressError, BindError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import type { ConnectOptions, ListenOptions, TcpConnection, TcpListener, TcpSocketOptions } from "../../Network.js"
import type { Packet, TcpConnectionInfo, TcpListenerInfo } from "../../TestNetwork.js"
import { invalidWrite, isPayload } from "../shared/arguments.js"
import { optionalDuration, optionalPositiveInteger } from "../shared/options.js"
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
      const slice = sent.slice(offset, Math.min(sent.length, offset + faults.sliceBytes))
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

/** One side of a connection. */
class Endpoint {
  closed = false
  writeEnded = false
  writeReset = false
  /** Set by the first read; see `closeNow`. */
  reading = false

  constructor(
    readonly connection: Connection,
    readonly localAddress: SocketAddress,
    readonly remoteAddress: SocketAddress,
    readonly inbound: Pipe,
    readonly outbound: Pipe,
    readonly ownsPort: boolean
  ) {}

  state(): TcpConnectionInfo["state"] {
    if (this.writeReset) return "Reset"
    const peerEnded = this.inbound.end === "fin"
    return this.writeEnded ? (peerEnded ? "Closing" : "FinWait") : peerEnded ? "CloseWait" : "Established"
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
    views: { readonly clientFamily: Family; readonly serverFamily: Family; readonly target: SocketAddress }
  ) {
    const world = stack.world
    this.toServer = new Pipe(world, this, client, server, clientRoll)
    this.toClient = new Pipe(world, this, server, client, rollOnce(world.random))
    this.client = new Endpoint(this, seenBy(views.clientFamily, client), views.target, this.toClient, this.toServer, true)
    this.server = new Endpoint(
      this,
      seenBy(views.serverFamily, server),
      seenBy(views.serverFamily, client),
      this.toServer,
      this.toClient,
      false
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
}

const close = (endpoint: Endpoint): Effect.Effect<void> =>
  Effect.clockWith((clock) => Effect.sync(() => closeNow(endpoint, clock.unsafeCurrentTimeMillis())))

/** The options every connection (accepted or connected) takes, checked up front. */
const settingsOf = <E>(
  options: TcpSocketOptions,
  onInvalid: (message: string) => E
): Effect.Effect<Duration.Duration | undefined, E> =>
  Effect.zipLeft(
    optionalDuration(options.idleTimeout, "idleTimeout", onInvalid),
    Effect.all([
      optionalDuration(options.closeTimeout, "closeTimeout", onInvalid),
      typeof options.keepAlive === "boolean" ? Effect.void : optionalDuration(options.keepAlive, "keepAlive", onInvalid)
    ])
  )

const makeConnection = (
  stack: TcpStack,
  endpoint: Endpoint,
  idleTimeout: Duration.Duration | undefined
): TcpConnection => {
  const signal = stack.world.signal
  const peer = format(endpoint.remoteAddress)
  const readReset = () => systemError("ReadError", { code: "ECONNRESET", syscall: "read" }, "read from", peer)
  const writeReset = () => systemError("WriteError", { code: "ECONNRESET", syscall: "write" }, "write to", peer)
  const closedForWriting = () =>
    new WriteError({ reason: "Closed", message: `write to ${peer} failed: the connection is closed for writing`, address: peer })

  // The read step shared by `recv` (one chunk) and `stream` (all buffered
  // chunks): chunks, or the end (EOF, local close) or a reset.
  const read = (all: boolean) => (clock: Clock.Clock) =>
    signal.await<Array<Uint8Array> | "end", ReadError>(clock, (now) => {
      if (endpoint.closed) return Exit.succeed("end")
      endpoint.reading = true
      endpoint.connection.settle(now)
      const chunks = endpoint.inbound.take(all)
      if (chunks.length > 0) return Exit.succeed(chunks)
      switch (endpoint.inbound.end) {
        case "fin":
          return Exit.succeed("end")
        case "rst":
          return Exit.fail(readReset())
        case "open":
          return endpoint.connection.nextArrival() ?? null
      }
    })
  const withIdleTimeout = <A>(effect: Effect.Effect<A, ReadError>): Effect.Effect<A, ReadError> =>
    idleTimeout === undefined ? effect : Effect.timeoutFail(effect, {
      duration: idleTimeout,
      onTimeout: () =>
        new ReadError({
          reason: "TimedOut",
          message: `read from ${peer} timed out: nothing arrived for ${Duration.format(idleTimeout)}`,
          address: peer
        })
    })

  const recv = withIdleTimeout(Effect.clockWith(read(false))).pipe(
    Effect.map((chunks) => chunks === "end" ? Option.none() : Option.some(chunks[0]))
  )
  const pull = withIdleTimeout(Effect.clockWith(read(true))).pipe(
    Effect.mapError(Option.some),
    Effect.flatMap((chunks) => chunks === "end" ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(chunks)))
  )

  const send = (data: Uint8Array | string): Effect.Effect<void, WriteError> => {
    if (!isPayload(data)) return Effect.fail(invalidWrite(data, peer))
    const bytes = typeof data === "string" ? encoder.encode(data) : data
    return Effect.clockWith((clock) => {
      let offset = 0
      // With an idle timeout, a peer that takes nothing for that long fails
      // the send (what was accepted stays queued), as in NodeNetwork.
      let progress = clock.unsafeCurrentTimeMillis()
      const wait = (): number | null => {
        const arrival = endpoint.connection.nextArrival()
        if (idleTimeout === undefined) return arrival ?? null
        const deadline = progress + Duration.toMillis(idleTimeout)
        return arrival === undefined ? deadline : Math.min(arrival, deadline)
      }
      return signal.await(clock, (now) => {
        endpoint.connection.settle(now)
        if (endpoint.writeReset) return Exit.fail(writeReset())
        if (endpoint.closed || endpoint.writeEnded) {
          return Exit.fail(closedForWriting())
        }
        if (bytes.length === 0) return Exit.void
        const room = endpoint.outbound.room()
        if (room > 0) {
          const end = Math.min(bytes.length, offset + room)
          if (!endpoint.outbound.write(bytes.subarray(offset, end), now)) {
            return Exit.fail(writeReset())
          }
          offset = end
          progress = now
          if (offset === bytes.length) return Exit.void
        } else if (idleTimeout !== undefined && now - progress >= Duration.toMillis(idleTimeout)) {
          return Exit.fail(
            new WriteError({
              reason: "TimedOut",
              message: `write to ${peer} timed out: the peer took nothing for ${Duration.format(idleTimeout)}`,
              address: peer
            })
          )
        }
        return wait()
      })
    })
  }

  const endWrite: Effect.Effect<void, WriteError> = Effect.clockWith((clock) =>
    Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      endpoint.connection.settle(now)
      if (endpoint.writeReset) return Effect.fail(writeReset())
      if (endpoint.writeEnded) return Effect.void
      if (endpoint.closed) return Effect.fail(closedForWriting())
      endpoint.writeEnded = true
      endpoint.outbound.fin(now)
      return Effect.void
    })
  )

  return {
    localAddress: endpoint.localAddress,
    remoteAddress: endpoint.remoteAddress,
    recv,
    stream: Stream.repeatEffectChunkOption(pull),
    send,
    sink: Sink.forEach(send),
    endWrite,
    close: close(endpoint)
  }
}

/** @internal */
export const listen = (
  stack: TcpStack,
  options: ListenOptions
): Effect.Effect<TcpListener, BindError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new BindError({ reason: "InvalidArgument", message })
    const hostText = yield* validateHost(options.host ?? "127.0.0.1")
    const port = yield* validatePort(options.port ?? 0)
    const backlog = (yield* optionalPositiveInteger(options.backlog, "backlog", invalid)) ?? 511
    const idleTimeout = yield* settingsOf(options, invalid)
    const ips = stack.world.resolve(hostText)
    if (ips === undefined) {
      const where = format({ host: hostText, port })
      return yield* systemError("AddressError", { code: "ENOTFOUND", syscall: "getaddrinfo" }, "resolve", where)
    }
    const host = preferred(ips)!
    if (options.ipv6Only === true && isMapped(host)) {
      // Linux refuses an IPv4-mapped address on an IPv6-only socket.
      const where = format({ host, port })
      return yield* systemError("BindError", { code: "EINVAL", syscall: "listen" }, "listen on", where)
    }
    const binding: Binding = {
      host: wireHost(host),
      reuse: false,
      v6Only: options.ipv6Only === true && familyOf(host) === "IPv6"
    }
    const listener = yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const bound = stack.world.tcpPorts.take(binding, port)
        if (bound === undefined) {
          const where = format({ host, port })
          return Effect.fail(systemError("BindError", { code: "EADDRINUSE", syscall: "listen" }, "listen on", where))
        }
        const listener = new Listener(address(host, bound), binding, backlog)
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
    const where = format(listener.address)
    const accept: Effect.Effect<TcpConnection, AcceptError, Scope.Scope> = Effect.clockWith((clock) =>
      stack.world.signal.await(
        clock,
        (now): Exit.Exit<Endpoint, AcceptError> | number | null => {
          if (listener.closed) {
            return Exit.fail(new AcceptError({
              reason: "Closed",
              message: `accept on ${where} failed: the listener is closed`,
              address: where
            }))
          }
          const index = listener.pending.findIndex((entry) => entry.arrival <= now)
          if (index < 0) return listener.pending.length === 0 ? null : Math.min(...listener.pending.map((e) => e.arrival))
          const [{ endpoint }] = listener.pending.splice(index, 1)
          if (!endpoint.closed) stack.endpoints.add(endpoint)
          stack.world.signal.notify()
          return Exit.succeed(endpoint)
        },
        (endpoint) => Effect.addFinalizer(() => close(endpoint))
      )
    ).pipe(Effect.map((endpoint) => makeConnection(stack, endpoint, idleTimeout)))
    return {
      address: listener.address,
      accept,
      connections: Stream.unwrapScoped(
        Effect.map(Effect.scope, (scope) => Stream.repeatEffect(Scope.extend(accept, scope)))
      )
    }
  })

/** @internal */
export const connect = (
  stack: TcpStack,
  options: ConnectOptions
): Effect.Effect<TcpConnection, ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new ConnectError({ reason: "InvalidArgument", message })
    const hostText = yield* validateHost(options.host)
    const port = yield* validatePort(options.port, { allowZero: false })
    const localText = options.localAddress === undefined ? undefined : yield* validateHost(options.localAddress)
    const localPort = yield* validatePort(options.localPort ?? 0)
    const timeout = yield* optionalDuration(options.timeout, "timeout", invalid)
    const idleTimeout = yield* settingsOf(options, invalid)
    const target = format({ host: hostText, port })
    const failure = (code: string, syscall = "connect") => systemError("ConnectError", { code, syscall }, "connect to", target)
    const ips = stack.world.resolve(hostText)
    if (ips === undefined) return yield* failure("ENOTFOUND", "getaddrinfo")
    const local = localText === undefined ? undefined : stack.world.resolve(localText)?.[0]
    if (localText !== undefined && (local === undefined || familyOf(localText) === undefined)) {
      return yield* new ConnectError({
        reason: "InvalidAddress",
        message: `connect to ${target} failed: local address "${localText}" is not an IP address`,
        address: target,
        code: "ERR_INVALID_IP_ADDRESS"
      })
    }
    const candidates = ips.filter((ip) => local === undefined || familyOf(ip) === familyOf(local))
    if (candidates.length === 0) {
      return yield* failure("EAFNOSUPPORT")
    }
    // Like Node's autoSelectFamily: the next address when one refuses.
    const attempt = (index: number): Effect.Effect<Endpoint, ConnectError, Scope.Scope> =>
      connectTo(stack, candidates[index], port, local, localPort, failure).pipe(
        Effect.catchIf(
          (error) => error.reason === "ConnectionRefused" && index + 1 < candidates.length,
          () => attempt(index + 1)
        )
      )
    const endpoint = yield* timeout === undefined ? attempt(0) : Effect.timeoutFail(attempt(0), {
      duration: timeout,
      onTimeout: () =>
        new ConnectError({
          reason: "TimedOut",
          message: `connect to ${target} failed: timed out after ${Duration.format(timeout)}`,
          address: target
        })
    })
    return makeConnection(stack, endpoint, idleTimeout)
  })

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
        })
        // A full backlog: the connection is made and closed at once, as
        // NodeNetwork's listener does with connections beyond its backlog.
        if (listener.pending.length >= listener.backlog) closeNow(connection.server, now)
        else listener.pending.push({ endpoint: connection.server, arrival: now })
        stack.endpoints.add(connection.client)
        world.signal.notify()
        return Exit.succeed(connection.client)
      },
      (endpoint) => Effect.addFinalizer(() => close(endpoint))
    )
    // ... and the SYN-ACK travels back.
    const synAck = (endpoint: Endpoint) =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const back = world.arrival(host, source, 0, now, endpoint.inbound.faults()) - now
        return back <= 0 ? Effect.void : clock.sleep(Duration.millis(back)).pipe(Effect.onInterrupt(() => close(endpoint)))
      })
    return syn.pipe(
      Effect.flatMap((delay) => delay <= 0 ? Effect.void : clock.sleep(Duration.millis(delay))),
      Effect.zipRight(handshake),
      Effect.tap(synAck)
    )
  })
