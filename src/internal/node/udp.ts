/**
 * UDP on `node:dgram`.
 *
 * A `UdpHandle` owns one dgram socket from the moment it is created: its
 * `'error'`, `'message'` and `'close'` listeners are attached before anything
 * else, so no event is ever unhandled. Received datagrams go to a ring buffer
 * of `receiveBufferSize` entries whose overflow policy drops (and counts)
 * datagrams, because UDP has no way to slow a sender down. Receivers never
 * take a datagram out of a callback: a callback only wakes them, and they take
 * from the buffer themselves, so an interrupted receiver loses nothing.
 *
 * Options out of range (`receiveBufferSize`, `ttl`, `overflow`, `family`)
 * fail with `BindError` `InvalidArgument`, and malformed addresses with
 * `AddressError`, before any socket is opened.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import * as Net from "node:net"
import * as Address from "../../Address.js"
import type { SocketAddress } from "../../Address.js"
import { AddressError, BindError, ConnectError, fromCause, MulticastError, ReceiveError, SendError } from "../../NetError.js"
import type { Datagram, UdpBindOptions, UdpConnectOptions, UdpSocket } from "../../Network.js"
import { maxPayload } from "../../Udp.js"
import { invalidSend, isPayload } from "../shared/arguments.js"
import { lookupHost } from "./dns.js"
import { fromPull } from "../shared/pullStream.js"
import { TurnBudget, Waiters } from "./waiters.js"
import { validateUdpBindOptions } from "../shared/udpOptions.js"

type Overflow = "dropNewest" | "dropOldest"

/** Fixed-capacity FIFO: O(1) push and shift whatever the overflow policy. */
class Ring<A> {
  private readonly items: Array<A | undefined> = []
  private head = 0
  size = 0
  constructor(readonly capacity: number) {}

  push(item: A): void {
    this.items[(this.head + this.size) % this.capacity] = item
    this.size++
  }

  shift(): A | undefined {
    if (this.size === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.size--
    return item
  }

  drain(): Array<A> {
    const out = new Array<A>(this.size)
    for (let i = 0; i < out.length; i++) out[i] = this.shift()!
    return out
  }

  clear(): void {
    this.items.length = 0
    this.head = 0
    this.size = 0
  }
}

interface Settings {
  readonly family: Address.Family
  /** An IP literal of `family`. */
  readonly host: string
  readonly port: number
  readonly reuseAddress: boolean
  readonly broadcast: boolean
  readonly ttl: number | undefined
  readonly capacity: number
  readonly overflow: Overflow
}

class UdpHandle implements UdpSocket {
  private readonly socket: Dgram.Socket
  private readonly buffer: Ring<Datagram>
  /** Receivers waiting for a datagram, an error or close. */
  private readonly waiters = new Waiters()
  /** An `'error'` event not yet reported: the next recv or send fails with it. */
  private failure: { readonly error: unknown } | undefined = undefined
  /** Bind or connect in progress: it gets the `'error'` events. */
  private pendingStep: ((error: unknown) => void) | undefined = undefined
  private state: "open" | "closing" | "closed" = "open"
  private closeWaiters: Array<() => void> = []
  /** Sends complete without a macrotask in between: see `TurnBudget`. */
  private readonly sendBudget = new TurnBudget()
  private droppedCount = 0
  address: SocketAddress
  /** The IP version the datagrams travel over, which sets their size limit. */
  private carrier: Address.Family
  peer: SocketAddress | undefined = undefined

  constructor(private readonly settings: Settings) {
    this.address = { family: settings.family, host: settings.host, port: settings.port }
    this.carrier = carrierOf(this.address)
    this.buffer = new Ring(settings.capacity)
    this.socket = Dgram.createSocket({
      type: settings.family === "IPv6" ? "udp6" : "udp4",
      reuseAddr: settings.reuseAddress,
      lookup: literalLookup
    })
    this.socket.on("error", this.onError)
    this.socket.on("message", this.onMessage)
    this.socket.on("close", this.onClose)
  }

  private readonly onError = (error: unknown): void => {
    const step = this.pendingStep
    if (step !== undefined) {
      this.pendingStep = undefined
      step(error)
    } else if (this.state === "open" && this.failure === undefined) {
      this.failure = { error }
      this.waiters.wakeAll()
    }
  }

  private readonly onMessage = (payload: Buffer, info: Dgram.RemoteInfo): void => {
    if (this.state !== "open") return
    if (this.buffer.size === this.buffer.capacity) {
      this.droppedCount++
      if (this.settings.overflow === "dropNewest") return
      this.buffer.shift()
    }
    this.buffer.push({
      payload,
      from: { family: info.family, host: info.address, port: info.port }
    })
    this.waiters.wakeOncePerTurn()
  }

  private readonly onClose = (): void => {
    // 'close' is emitted on the tick after the handle is asked to close; libuv
    // frees it in the "closing handles" phase of the loop. The second
    // setImmediate runs after that phase, so when close returns the UDP
    // handle is really gone (process.getActiveResourcesInfo agrees).
    setImmediate(() =>
      setImmediate(() => {
        this.state = "closed"
        const waiters = this.closeWaiters
        this.closeWaiters = []
        for (const resume of waiters) resume()
      })
    )
  }

  private where(): string {
    return Address.format(this.peer ?? this.address)
  }

  private takeFailure<Step extends "SendError" | "ReceiveError">(step: Step, error: unknown) {
    this.failure = undefined
    return fromCause(step, error, {
      what: step === "SendError" ? "send to" : "receive from",
      address: this.where()
    })
  }

  /** Runs a bind or connect call whose failure may come as a callback error, an `'error'` event or a throw. */
  private step<E>(run: (done: (error?: unknown) => void) => void, onError: (error: unknown) => E): Effect.Effect<void, E> {
    return Effect.async<void, E>((resume) => {
      let finished = false
      const done = (error?: unknown) => {
        if (finished) return
        finished = true
        this.pendingStep = undefined
        resume(error === undefined || error === null ? Effect.void : Effect.fail(onError(error)))
      }
      this.pendingStep = done
      try {
        run(done)
      } catch (error) {
        done(error)
      }
    })
  }

  readonly bindSocket: Effect.Effect<void, BindError> = Effect.suspend(() => {
    const { broadcast, host, port, ttl } = this.settings
    const requested = Address.format({ host, port })
    return this.step(
      (done) => this.socket.bind({ address: host, port }, () => done()),
      (error) => fromCause("BindError", error, { what: "bind to", address: requested })
    ).pipe(
      Effect.zipRight(Effect.try({
        try: () => {
          if (broadcast) this.socket.setBroadcast(true)
          if (ttl !== undefined) this.socket.setTTL(ttl)
          this.refreshAddress()
        },
        catch: (error) => fromCause("BindError", error, { what: "configure UDP socket bound to", address: requested })
      }))
    )
  })

  connectSocket(peer: SocketAddress): Effect.Effect<void, ConnectError> {
    return this.step(
      // Node reports a failed connect through the callback's argument.
      (done) => this.socket.connect(peer.port, peer.host, done as () => void),
      (error) => fromCause("ConnectError", error, { what: "connect to", address: Address.format(peer) })
    ).pipe(Effect.tap(() => {
      this.peer = peer
      // Bound to a wildcard, the socket has its real source address only now.
      this.refreshAddress()
    }))
  }

  private refreshAddress(): void {
    const local = this.socket.address()
    this.address = { family: Address.familyOf(local.address) ?? this.settings.family, host: local.address, port: local.port }
    this.carrier = carrierOf(this.address)
  }

  readonly recv: Effect.Effect<Datagram, ReceiveError> = Effect.suspend(() => {
    const datagram = this.buffer.shift()
    if (datagram !== undefined) return Effect.succeed(datagram)
    if (this.state !== "open") return Effect.fail(this.closedReceive())
    if (this.failure !== undefined) return Effect.fail(this.takeFailure("ReceiveError", this.failure.error))
    return this.waiters.waitThen(() => this.recv)
  })

  /** Every buffered datagram at once; `undefined` ends the stream once the socket is closed. */
  private readonly pullAll: Effect.Effect<Chunk.Chunk<Datagram> | undefined, ReceiveError> = Effect.suspend(() => {
    if (this.buffer.size > 0) return Effect.succeed(Chunk.unsafeFromArray(this.buffer.drain()))
    if (this.state !== "open") return Effect.succeed(undefined)
    if (this.failure !== undefined) return Effect.fail(this.takeFailure("ReceiveError", this.failure.error))
    return this.waiters.waitThen(() => this.pullAll)
  })

  readonly datagrams: Stream.Stream<Datagram, ReceiveError> = fromPull(this.pullAll)

  readonly dropped: Effect.Effect<number> = Effect.sync(() => this.droppedCount)

  readonly send = (
    payload: Uint8Array | string,
    to?: SocketAddress | { readonly host: string; readonly port: number }
  ): Effect.Effect<void, SendError> =>
    Effect.suspend(() => {
      if (!isPayload(payload)) return Effect.fail(invalidSend(payload, Address.format(this.address)))
      if (this.state !== "open") return Effect.fail(this.closedSend())
      if (this.failure !== undefined) return Effect.fail(this.takeFailure("SendError", this.failure.error))
      const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
      const limit = maxPayload[this.carrier]
      if (bytes.byteLength > limit) {
        return Effect.fail(
          new SendError({
            reason: "MessageTooLarge",
            message: `send of ${bytes.byteLength} bytes from ${
              Address.format(this.address)
            } failed: a UDP datagram over ${this.carrier} carries at most ${limit} bytes`,
            address: this.where()
          })
        )
      }
      if (to === undefined) {
        return this.peer === undefined
          ? Effect.fail(
            new SendError({
              reason: "InvalidAddress",
              message: `send from ${Address.format(this.address)} failed: the socket is not connected, so a destination is required`
            })
          )
          : this.transmit(bytes, undefined)
      }
      // The common case, answering the `from` of a received datagram, needs
      // none of the Effects that validating a host name or a mismatch takes.
      if (this.peer === undefined && isLiteralOf(to, this.address.family)) return this.transmit(bytes, to)
      return Effect.flatMap(this.destination(to), (destination) => this.transmit(bytes, destination))
    })

  /**
   * Validates and resolves `to`; on a connected socket it may only name the
   * peer. A name is resolved here rather than by Node, so that the socket is
   * only ever given IP literals (see `literalLookup`).
   */
  private destination(
    to: { readonly host: string; readonly port: number }
  ): Effect.Effect<{ readonly host: string; readonly port: number } | undefined, SendError> {
    const shown = Address.format({ host: String(to?.host), port: to?.port })
    const invalid = (why: string) =>
      new SendError({ reason: "InvalidAddress", message: `send to ${shown} failed: ${why}`, address: shown })
    return Effect.zipWith(
      Address.validateHost(to?.host),
      Address.validatePort(to?.port, { allowZero: false }),
      (host, port) => ({ host, port })
    ).pipe(
      Effect.mapError((error) => invalid(error.message)),
      Effect.flatMap(({ host, port }) =>
        Effect.map(
          lookupHost(
            host,
            this.address.family === "IPv6" ? 6 : 4,
            (error) => fromCause("SendError", error, { what: "send to", address: shown })
          ),
          (resolved) => ({ host: resolved, port })
        )
      ),
      Effect.flatMap((destination) => {
        const family = Address.familyOf(destination.host)
        if (family !== this.address.family) {
          return Effect.fail(invalid(`${destination.host} is not an ${this.address.family} address`))
        }
        if (this.peer === undefined) return Effect.succeed(destination)
        return destination.host === this.peer.host && destination.port === this.peer.port
          ? Effect.succeed(undefined)
          : Effect.fail(invalid(`the socket is connected to ${Address.format(this.peer)}`))
      })
    )
  }

  private transmit(
    bytes: Uint8Array,
    destination: { readonly host: string; readonly port: number } | undefined
  ): Effect.Effect<void, SendError> {
    return Effect.async<void, SendError>((resume) => {
      // The socket closed while the destination was being resolved.
      if (this.state !== "open") return resume(Effect.fail(this.closedSend()))
      const fail = (error: unknown) =>
        this.sendBudget.complete(resume, Effect.fail(
          this.state === "open"
            ? fromCause("SendError", error, {
              what: "send to",
              address: destination === undefined ? this.where() : Address.format(destination)
            })
            : this.closedSend()
        ))
      const callback = (error: Error | null) =>
        error === null ? this.sendBudget.complete(resume, Effect.void) : fail(error)
      try {
        if (destination === undefined) this.socket.send(bytes, callback)
        else this.socket.send(bytes, destination.port, destination.host, callback)
      } catch (error) {
        fail(error)
      }
    })
  }

  readonly joinMulticast = (group: string, iface?: string): Effect.Effect<void, MulticastError, Scope.Scope> =>
    Effect.suspend(() => {
      const family = this.address.family
      if (!isMulticastGroup(group, family)) {
        return Effect.fail(
          new MulticastError({
            reason: "InvalidGroup",
            message: `join multicast group ${String(group)} failed: not an ${family} multicast address`
          })
        )
      }
      if (iface !== undefined && Address.familyOf(iface) !== family) {
        return Effect.fail(
          new MulticastError({
            reason: "AddressNotAvailable",
            message: `join multicast group ${group} failed: interface ${String(iface)} is not an ${family} address`
          })
        )
      }
      return Effect.acquireRelease(
        Effect.try({
          try: () => this.socket.addMembership(group, iface),
          catch: (error) =>
            fromCause("MulticastError", error, {
              what: `join multicast group ${group} on`,
              address: Address.format(this.address)
            })
        }),
        () =>
          Effect.sync(() => {
            try {
              this.socket.dropMembership(group, iface)
            } catch {
              // The socket is already closed, which left the group.
            }
          })
      )
    })

  readonly close: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.state === "closed") return resume(Effect.void)
    this.closeWaiters.push(() => resume(Effect.void))
    if (this.state === "open") {
      this.state = "closing"
      this.buffer.clear()
      this.waiters.wakeAll()
      try {
        this.socket.close()
      } catch {
        // Never bound or already gone: there is no 'close' event to wait for.
        this.onClose()
      }
    }
  })

  private closedReceive(): ReceiveError {
    return new ReceiveError({
      reason: "Closed",
      message: `receive on ${Address.format(this.address)} failed: the socket is closed`,
      address: Address.format(this.address)
    })
  }

  private closedSend(): SendError {
    return new SendError({
      reason: "Closed",
      message: `send from ${Address.format(this.address)} failed: the socket is closed`,
      address: Address.format(this.address)
    })
  }
}

/**
 * An IPv4 address written as IPv6, `::ffff:a.b.c.d`, the form Node reports
 * for one (the bound address of a socket is always checked in that form).
 */
const isIPv4Mapped = (host: string): boolean => /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host)

/** An IPv6 socket bound to an IPv4-mapped address sends IPv4 packets. */
const carrierOf = (address: SocketAddress): Address.Family =>
  address.family === "IPv6" && isIPv4Mapped(address.host) ? "IPv4" : address.family

/**
 * The lookup Node's dgram runs on the address of every bind, connect and
 * send. Node's own answers even an IP literal on a later tick, and a send
 * whose answer comes after the socket closed is dropped with its callback,
 * so its fiber would wait forever. effect-net gives the socket IP literals
 * only (names are resolved first, with `lookupHost`): answered at once, a
 * send is in libuv's hands before `socket.send` returns, and libuv calls
 * back for it even when the socket closes (with ECANCELED).
 */
const literalLookup: NonNullable<Dgram.SocketOptions["lookup"]> = (address, options, callback) => {
  const family = Net.isIP(address)
  if (family === 0) Dns.lookup(address, options, callback)
  else callback(null, address, family)
}

/** An IP literal of `family` and a port a datagram can go to. */
const isLiteralOf = (to: { readonly host: string; readonly port: number }, family: Address.Family): boolean =>
  typeof to?.host === "string" && Address.familyOf(to.host) === family &&
  typeof to.port === "number" && Number.isInteger(to.port) && to.port >= 1 && to.port <= 65535

const isMulticastGroup = (group: string, family: Address.Family): boolean => {
  if (typeof group !== "string" || Address.familyOf(group) !== family) return false
  if (family === "IPv6") return /^ff[0-9a-f]{2}:/i.test(group)
  const first = Number(group.split(".")[0])
  return first >= 224 && first <= 239
}

const resolveSettings = (
  options: UdpBindOptions,
  familyHint: Address.Family | undefined
): Effect.Effect<Settings, BindError | AddressError> =>
  Effect.gen(function*() {
    const { capacity, family, overflow, port, requested } = yield* validateUdpBindOptions(options, familyHint)
    const host = requested === undefined
      ? (family === "IPv6" ? "::1" : "127.0.0.1")
      : yield* lookupHost(
        requested,
        family === "IPv6" ? 6 : 4,
        (error) => fromCause("AddressError", error, { what: "resolve", address: requested })
      )
    if (Address.familyOf(host) !== family) {
      return yield* new AddressError({
        reason: "InvalidHost",
        message: `bind to ${Address.format({ host, port })} failed: ${host} is not an ${family} address`,
        address: Address.format({ host, port })
      })
    }
    return {
      family,
      host,
      port,
      reuseAddress: options.reuseAddress ?? false,
      broadcast: options.broadcast ?? false,
      ttl: options.ttl,
      capacity,
      overflow
    }
  })

/** Creates and binds a socket that closes with the scope; `configure` runs once it is bound. */
const open = <E>(settings: Settings, configure: (handle: UdpHandle) => Effect.Effect<void, E>) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const handle = new UdpHandle(settings)
      return handle.bindSocket.pipe(
        Effect.zipRight(configure(handle)),
        Effect.onError(() => handle.close),
        Effect.as<UdpSocket>(handle)
      )
    }),
    (socket) => socket.close
  )

/** @internal */
export const bind = (options: UdpBindOptions): Effect.Effect<UdpSocket, BindError | AddressError, Scope.Scope> =>
  Effect.flatMap(resolveSettings(options, undefined), (settings) => open(settings, () => Effect.void))

/**
 * Where a socket connected to `peer` binds unless told: on loopback when the
 * peer is (undefined: the family's own loopback), else on the wildcard
 * address so the kernel can pick a route; a connected socket hears only its
 * peer either way. An IPv6 socket reaches an IPv4-mapped peer only from an
 * IPv4-mapped address (from `::1` the route is unreachable), so a mapped
 * loopback peer gets the mapped loopback, and the socket's address, the
 * peer and every `from` stay in the mapped form the caller used.
 */
const defaultBindHost = (peer: SocketAddress): string | undefined => {
  if (peer.host === "::1" || /^127\./.test(peer.host)) return undefined
  if (/^::ffff:127\./i.test(peer.host)) return "::ffff:127.0.0.1"
  return peer.family === "IPv6" ? "::" : "0.0.0.0"
}

/**
 * Binds (by default where `defaultBindHost` says) and connects.
 *
 * @internal
 */
export const connect = (
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* Address.validatePort(options.port, { allowZero: false })
    const name = yield* Address.validateHost(options.host)
    const bindOptions = options.bind ?? {}
    const bindFamily = bindOptions.host === undefined ? undefined : Address.familyOf(bindOptions.host)
    const host = yield* lookupHost(
      name,
      bindFamily === "IPv6" ? 6 : bindFamily === "IPv4" ? 4 : 0,
      (error) => fromCause("ConnectError", error, { what: "resolve", address: Address.format({ host: name, port }) })
    )
    const peer: SocketAddress = { family: Address.familyOf(host) ?? "IPv4", host, port }
    const settings = yield* resolveSettings({
      ...bindOptions,
      host: bindOptions.host ?? defaultBindHost(peer),
      receiveBufferSize: options.receiveBufferSize ?? bindOptions.receiveBufferSize,
      overflow: options.overflow ?? bindOptions.overflow
    }, peer.family)
    return yield* open(settings, (handle) => handle.connectSocket(peer))
  })
