/**
 * The one UDP front for every network: the `UdpSocket` class, built on a
 * small backend (`udpBackend.ts`), with the option checks and defaults, the
 * receive buffer and its overflow policy, destination, payload and
 * multicast group checks, and the error messages, so that both networks
 * check, buffer, drop and fail alike.
 *
 * Receivers never take a datagram out of a callback: a backend callback
 * only puts it in the buffer and wakes them, and they take from the buffer
 * themselves, in the step that returns it, so an interrupted receiver loses
 * nothing.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type { Family, SocketAddress } from "../../Address.js"
import { familyOf, format, validateHost, validatePort } from "../../Address.js"
import type { BindError, ConnectError } from "../../NetError.js"
import { AddressError, fromCause, MulticastError, ReceiveError, SendError } from "../../NetError.js"
import type { Datagram, UdpBindOptions, UdpConnectOptions, UdpSocket as UdpSocketShape } from "../../Udp.js"
import { maxPayload, UdpSocketTypeId } from "../../Udp.js"
import { describeValue, invalidSend, isPayload } from "./arguments.js"
import { optionalDuration } from "./options.js"
import { fromPull } from "./pullStream.js"
import type { UdpInstruments } from "./telemetry.js"
import { bindStep, endpointAttributes, makeUdpInstruments, step } from "./telemetry.js"
import type { Destination, Inbox, UdpBackend, UdpSocketBackend } from "./udpBackend.js"
import type { UdpBindRequest } from "./udpOptions.js"
import { validateUdpBindOptions } from "./udpOptions.js"

/**
 * The bounded receive buffer, a fixed-capacity FIFO: O(1) offer and take
 * whatever the overflow policy, because UDP has no way to slow a sender
 * down.
 */
class ReceiveBuffer implements Inbox {
  private readonly items: Array<Datagram | undefined> = []
  private head = 0
  size = 0
  dropped = 0

  constructor(
    private readonly capacity: number,
    private readonly overflow: "dropNewest" | "dropOldest",
    private readonly instruments: UdpInstruments | undefined
  ) {}

  offer(datagram: Datagram): boolean {
    if (this.size === this.capacity) {
      this.drop()
      if (this.overflow === "dropNewest") return false
      this.shift()
    }
    this.items[(this.head + this.size) % this.capacity] = datagram
    this.size++
    return true
  }

  /** The one place a datagram is lost to the overflow policy. */
  private drop(): void {
    this.dropped++
    this.instruments?.dropped(1)
  }

  private shift(): Datagram | undefined {
    if (this.size === 0) return undefined
    const datagram = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.size--
    return datagram
  }

  /** The one place a datagram leaves the buffer for the user (`recv` and `datagrams` alike). */
  take(): Datagram | undefined {
    const datagram = this.shift()
    if (datagram !== undefined) this.instruments?.received(datagram.payload.byteLength)
    return datagram
  }

  takeAll(): Array<Datagram> {
    const all = new Array<Datagram>(this.size)
    for (let i = 0; i < all.length; i++) all[i] = this.take()!
    return all
  }

  /** Discards what is buffered: a closed socket delivers nothing more. */
  clear(): void {
    this.items.length = 0
    this.head = 0
    this.size = 0
  }
}

/**
 * An IPv4 address written as IPv6, `::ffff:a.b.c.d`, the form Node reports
 * for one (the bound address of a socket is always checked in that form).
 */
const isIPv4Mapped = (host: string): boolean => /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(host)

/** The IP version datagrams travel over, which sets their size limit: an IPv6 socket bound to an IPv4-mapped address sends IPv4 packets. */
const carrierOf = (address: SocketAddress): Family =>
  address.family === "IPv6" && isIPv4Mapped(address.host) ? "IPv4" : address.family

/** An IP literal of `family` and a port a datagram can go to. */
const isLiteralOf = (to: Destination, family: Family): boolean =>
  typeof to?.host === "string" && familyOf(to.host) === family &&
  typeof to.port === "number" && Number.isInteger(to.port) && to.port >= 1 && to.port <= 65535

/**
 * What `sendAll` can take as a batch: an iterable, but not a string, which
 * the types let through (it is an iterable of strings) and which would go
 * one character a datagram.
 */
const isBatch = (payloads: unknown): payloads is Iterable<unknown> =>
  typeof payloads !== "string" && typeof (payloads as Partial<Iterable<unknown>> | null)?.[Symbol.iterator] === "function"

/**
 * A multicast address of `family`: 224.0.0.0/4, or ff00::/8.
 *
 * @internal
 */
export const isMulticastGroup = (group: string, family: Family | undefined): boolean => {
  if (typeof group !== "string" || family === undefined || familyOf(group) !== family) return false
  if (family === "IPv6") return /^ff[0-9a-f]{2}:/i.test(group)
  const first = Number(group.split(".")[0])
  return first >= 224 && first <= 239
}

/**
 * A bound socket behind the `UdpSocket` interface, the same class on every
 * network. `send` and `joinMulticast` are bound functions (a program passes
 * `socket.send` to `Effect.forEach`); the rest are getters.
 *
 * @internal
 */
export class UdpSocket implements UdpSocketShape {
  private closed = false
  private peer: SocketAddress | undefined = undefined
  /** The IP version the datagrams travel over: see `carrierOf`. */
  private carrier: Family
  private readonly receiveOne: Effect.Effect<Datagram, ReceiveError>
  private readonly receiveAll: Effect.Effect<Chunk.Chunk<Datagram> | undefined, ReceiveError>

  constructor(
    private readonly network: UdpBackend,
    private readonly backend: UdpSocketBackend,
    private readonly buffer: ReceiveBuffer,
    private readonly instruments: UdpInstruments | undefined
  ) {
    this.carrier = carrierOf(backend.address)
    const receiveAgain = () => this.receiveOne
    const receiveAllAgain = () => this.receiveAll
    this.receiveOne = backend.atNow(() => {
      const taken = this.take()
      if (taken === undefined) return this.backend.wait(this.ready, receiveAgain)
      return taken instanceof ReceiveError ? Effect.fail(taken) : Effect.succeed(taken)
    })
    // Every buffered datagram at once; `undefined` ends the stream once the socket is closed.
    this.receiveAll = backend.atNow(() => {
      if (this.buffer.size > 0) return Effect.succeed(Chunk.unsafeFromArray(this.buffer.takeAll()))
      if (this.closed) return Effect.succeed(undefined)
      const failure = this.backend.takeFailure()
      if (failure !== undefined) return Effect.fail(this.failed("ReceiveError", failure.cause))
      return this.backend.wait(this.ready, receiveAllAgain)
    })
  }

  get [UdpSocketTypeId](): typeof UdpSocketTypeId {
    return UdpSocketTypeId
  }

  get address(): SocketAddress {
    return this.backend.address
  }

  get recv(): Effect.Effect<Datagram, ReceiveError> {
    return this.receiveOne
  }

  readonly recvWithin = (timeout: Duration.DurationInput): Effect.Effect<Option.Option<Datagram>, ReceiveError> =>
    Effect.flatMap(
      optionalDuration(timeout, "timeout", this.invalidTimeout),
      // Required, unlike the options `optionalDuration` is made for: `undefined` is no duration here.
      (duration) =>
        duration === undefined
          ? Effect.fail(this.invalidTimeout(`timeout ${String(timeout)} is not a non-negative duration`))
          : this.backend.atNow((now) => this.receiveBy(now, now + Duration.toMillis(duration)))
    )

  private readonly invalidTimeout = (message: string): ReceiveError => {
    const here = format(this.backend.address)
    return new ReceiveError({ reason: "InvalidArgument", message: `receive on ${here} failed: ${message}`, address: here })
  }

  /** The next datagram, or `None` once the backend's time reaches `deadline`. */
  private receiveBy(now: number, deadline: number): Effect.Effect<Option.Option<Datagram>, ReceiveError> {
    const attempt = (now: number): Effect.Effect<Option.Option<Datagram>, ReceiveError> => {
      const taken = this.take()
      if (taken === undefined) {
        return now >= deadline ? Effect.succeedNone : this.backend.wait(this.ready, again, deadline)
      }
      return taken instanceof ReceiveError ? Effect.fail(taken) : Effect.succeed(Option.some(taken))
    }
    const again = () => this.backend.atNow(attempt)
    return attempt(now)
  }

  /** What a receive gets now: a datagram, the error of a closed or failed socket, or nothing yet. */
  private take(): Datagram | ReceiveError | undefined {
    const datagram = this.buffer.take()
    if (datagram !== undefined) return datagram
    if (this.closed) return this.closedReceive()
    const failure = this.backend.takeFailure()
    return failure === undefined ? undefined : this.failed("ReceiveError", failure.cause)
  }

  get datagrams(): Stream.Stream<Datagram, ReceiveError> {
    return fromPull(this.receiveAll)
  }

  get dropped(): Effect.Effect<number> {
    return this.backend.atNow(() => Effect.succeed(this.buffer.dropped))
  }

  /** The one place a socket closes: what it commits happens once, whoever calls and however often. */
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!this.closed) {
        this.closed = true
        this.buffer.clear()
      }
      return this.backend.close
    })
  }

  private readonly ready = (): boolean => this.buffer.size > 0 || this.closed

  /** The peer of a connected socket, else the socket itself: what a failure the kernel reports for no one destination is about. */
  private where(): string {
    return format(this.peer ?? this.backend.address)
  }

  private failed<Step extends "SendError" | "ReceiveError">(step: Step, cause: unknown) {
    const error = fromCause(step, cause, { what: step === "SendError" ? "send to" : "receive from", address: this.where() })
    this.instruments?.failed(error)
    return error
  }

  /** Connects the backend to `peer`: only it is heard from now on, and `send` needs no destination. */
  connectTo(peer: SocketAddress): Effect.Effect<void, ConnectError> {
    return Effect.tap(this.backend.connect(peer), () => {
      this.peer = peer
      this.carrier = carrierOf(this.backend.address)
    })
  }

  readonly send = (payload: Uint8Array | string, to?: Destination): Effect.Effect<void, SendError> =>
    this.backend.atNow((now) => {
      if (!isPayload(payload)) return Effect.fail(invalidSend(payload, format(this.backend.address)))
      const blocked = this.sendBlocked()
      if (blocked !== undefined) return Effect.fail(blocked)
      const bytes = this.backend.toBytes(payload)
      const tooLarge = this.tooLarge(bytes)
      if (tooLarge !== undefined) return Effect.fail(tooLarge)
      return this.toDestination(to, (destination) => this.transmit(bytes, destination, now))
    })

  readonly sendAll = (payloads: Iterable<Uint8Array | string>, to?: Destination): Effect.Effect<void, SendError> =>
    this.backend.atNow((now) => {
      if (!isBatch(payloads)) {
        return Effect.fail(
          new SendError({
            reason: "InvalidArgument",
            message: `send from ${format(this.backend.address)} failed: the batch is ${
              describeValue(payloads)
            }, not an iterable of payloads`
          })
        )
      }
      const batch = Array.from(payloads)
      for (const payload of batch) {
        if (!isPayload(payload)) return Effect.fail(invalidSend(payload, format(this.backend.address)))
      }
      const blocked = this.sendBlocked()
      if (blocked !== undefined) return Effect.fail(blocked)
      const datagrams = new Array<Uint8Array>(batch.length)
      for (let i = 0; i < batch.length; i++) {
        const bytes = this.backend.toBytes(batch[i])
        const tooLarge = this.tooLarge(bytes)
        if (tooLarge !== undefined) return Effect.fail(tooLarge)
        datagrams[i] = bytes
      }
      return this.toDestination(to, (destination) => this.transmitAll(datagrams, destination, now))
    })

  /** Why nothing can be sent now: the socket is closed, or has an asynchronous error to report. */
  private sendBlocked(): SendError | undefined {
    if (this.closed) return this.closedSend()
    const failure = this.backend.takeFailure()
    return failure === undefined ? undefined : this.failed("SendError", failure.cause)
  }

  private tooLarge(bytes: Uint8Array): SendError | undefined {
    const limit = maxPayload[this.carrier]
    if (bytes.byteLength <= limit) return undefined
    return new SendError({
      reason: "MessageTooLarge",
      message: `send of ${bytes.byteLength} bytes from ${
        format(this.backend.address)
      } failed: a UDP datagram over ${this.carrier} carries at most ${limit} bytes`,
      address: this.where()
    })
  }

  /** Runs `use` with where `to` sends (`undefined`: the peer of a connected socket), or fails for a `to` it cannot use. */
  private toDestination(
    to: Destination | undefined,
    use: (destination: Destination | undefined) => Effect.Effect<void, SendError>
  ): Effect.Effect<void, SendError> {
    if (to === undefined) {
      return this.peer === undefined
        ? Effect.fail(
          new SendError({
            reason: "InvalidAddress",
            message: `send from ${
              format(this.backend.address)
            } failed: the socket is not connected, so a destination is required`
          })
        )
        : use(undefined)
    }
    // The common case, answering the `from` of a received datagram, needs
    // none of the Effects that validating a host name or a mismatch takes.
    if (this.peer === undefined && isLiteralOf(to, this.backend.address.family)) return use(to)
    return Effect.flatMap(this.destination(to), use)
  }

  /**
   * Validates and resolves `to`; on a connected socket it may only name the
   * peer (`undefined`: send to the peer). Names are resolved here, so that
   * a backend is only ever given IP literals.
   */
  private destination(to: Destination): Effect.Effect<Destination | undefined, SendError> {
    const shown = format({ host: String(to?.host), port: to?.port })
    const invalid = (why: string) =>
      new SendError({ reason: "InvalidAddress", message: `send to ${shown} failed: ${why}`, address: shown })
    const family = this.backend.address.family
    return Effect.zipWith(
      validateHost(to?.host),
      validatePort(to?.port, { allowZero: false }),
      (host, port) => ({ host, port })
    ).pipe(
      Effect.mapError((error) => invalid(error.message)),
      Effect.flatMap(({ host, port }) =>
        Effect.mapBoth(this.network.lookup(host, family), {
          onFailure: (cause) => fromCause("SendError", cause, { what: "send to", address: shown }),
          onSuccess: (resolved): Destination => ({ host: resolved, port })
        })
      ),
      Effect.flatMap((destination) => {
        if (familyOf(destination.host) !== family) {
          return Effect.fail(invalid(`${destination.host} is not an ${family} address`))
        }
        const peer = this.peer
        if (peer === undefined) return Effect.succeed(destination)
        return destination.host === peer.host && destination.port === peer.port
          ? Effect.succeed(undefined)
          : Effect.fail(invalid(`the socket is connected to ${format(peer)}`))
      })
    )
  }

  /** The one place a datagram is handed to the backend, and (in `done`) where its send completes. */
  private transmit(bytes: Uint8Array, destination: Destination | undefined, now: number): Effect.Effect<void, SendError> {
    return Effect.async<void, SendError>((resume) => {
      // The socket closed while the destination was being resolved.
      if (this.closed) return resume(Effect.fail(this.closedSend()))
      this.backend.transmit(bytes, destination, now, (cause) => {
        const error = this.sent(bytes, destination, cause)
        resume(error === undefined ? Effect.void : Effect.fail(error))
      })
    })
  }

  /** Hands every datagram to the backend at once and waits for all their completions: the first failure is the batch's. */
  private transmitAll(
    datagrams: ReadonlyArray<Uint8Array>,
    destination: Destination | undefined,
    now: number
  ): Effect.Effect<void, SendError> {
    if (datagrams.length === 0) return Effect.void
    return Effect.async<void, SendError>((resume) => {
      if (this.closed) return resume(Effect.fail(this.closedSend()))
      let pending = datagrams.length
      let first: SendError | undefined = undefined
      for (const bytes of datagrams) {
        this.backend.transmit(bytes, destination, now, (cause) => {
          first ??= this.sent(bytes, destination, cause)
          if (--pending === 0) resume(first === undefined ? Effect.void : Effect.fail(first))
        })
      }
    })
  }

  /** Where a send completes: counted when it went, else the error it failed with. */
  private sent(bytes: Uint8Array, destination: Destination | undefined, cause: unknown): SendError | undefined {
    if (cause === undefined) {
      this.instruments?.transmitted(bytes.byteLength)
      return undefined
    }
    const error = this.closed ? this.closedSend() : fromCause("SendError", cause, {
      what: "send to",
      address: destination === undefined ? this.where() : format(destination)
    })
    this.instruments?.failed(error)
    return error
  }

  readonly joinMulticast = (group: string, iface?: string): Effect.Effect<void, MulticastError, Scope.Scope> =>
    Effect.suspend(() => {
      const family = this.backend.address.family
      if (!isMulticastGroup(group, family)) {
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
      return Effect.acquireRelease(
        Effect.try({
          try: () => this.backend.join(group, iface),
          catch: (cause) =>
            fromCause("MulticastError", cause, {
              what: `join multicast group ${group} on`,
              address: format(this.backend.address)
            })
        }),
        () => Effect.sync(() => this.backend.leave(group, iface))
      )
    })

  private closedReceive(): ReceiveError {
    const here = format(this.backend.address)
    return new ReceiveError({ reason: "Closed", message: `receive on ${here} failed: the socket is closed`, address: here })
  }

  private closedSend(): SendError {
    const here = format(this.backend.address)
    return new SendError({ reason: "Closed", message: `send from ${here} failed: the socket is closed`, address: here })
  }
}

/**
 * Resolves the bind host and opens a socket that closes with the scope;
 * `configure` runs once it is bound (a failure closes it).
 */
const open = <E>(
  network: UdpBackend,
  request: UdpBindRequest,
  configure: (socket: UdpSocket) => Effect.Effect<void, E>
): Effect.Effect<UdpSocket, BindError | AddressError | E, Scope.Scope> =>
  Effect.gen(function*() {
    const { family, port, requested } = request
    const host = requested === undefined
      ? (family === "IPv6" ? "::1" : "127.0.0.1")
      : yield* Effect.mapError(
        network.lookup(requested, family),
        (cause) => fromCause("AddressError", cause, { what: "resolve", address: requested })
      )
    if (familyOf(host) !== family) {
      const where = format({ host, port })
      return yield* new AddressError({
        reason: "InvalidHost",
        message: `bind to ${where} failed: ${host} is not an ${family} address`,
        address: where
      })
    }
    const { broadcast, reuseAddress, ttl } = request
    const instruments = yield* makeUdpInstruments
    return yield* Effect.acquireRelease(
      Effect.suspend(() => {
        const buffer = new ReceiveBuffer(request.capacity, request.overflow, instruments)
        return Effect.flatMap(
          network.open({ family, host, port, reuseAddress, broadcast, ttl }, buffer),
          (backend) => {
            const socket = new UdpSocket(network, backend, buffer, instruments)
            return configure(socket).pipe(Effect.onError(() => socket.close), Effect.as(socket))
          }
        )
      }),
      (socket) => socket.close
    )
  })

/**
 * The bind step: checks the options, then opens a socket bound where they
 * say.
 *
 * @internal
 */
export const bind = (
  network: UdpBackend,
  options: UdpBindOptions
): Effect.Effect<UdpSocketShape, BindError | AddressError, Scope.Scope> =>
  bindStep(
    "effect_net.udp.bind",
    "udp",
    () => undefined,
    Effect.flatMap(validateUdpBindOptions(options, undefined), (request) => open(network, request, () => Effect.void))
  )

/**
 * The connect step: resolves the peer (in the family of the bind host, if
 * one is given), binds (by default where the network says) and connects.
 *
 * @internal
 */
export const connect = (
  network: UdpBackend,
  options: UdpConnectOptions
): Effect.Effect<UdpSocketShape, BindError | ConnectError | AddressError, Scope.Scope> =>
  step(
    "effect_net.udp.connect",
    {
      kind: "client",
      attributes: () => endpointAttributes("udp", { server: { host: String(options?.host), port: Number(options?.port) } }),
      describe: (socket) => endpointAttributes("udp", { client: socket.address })
    },
    connectStep(network, options)
  )

const connectStep = (
  network: UdpBackend,
  options: UdpConnectOptions
): Effect.Effect<UdpSocketShape, BindError | ConnectError | AddressError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* validatePort(options.port, { allowZero: false })
    const name = yield* validateHost(options.host)
    const bindOptions = options.bind ?? {}
    const bindFamily = typeof bindOptions.host === "string" ? familyOf(bindOptions.host) : undefined
    const host = yield* Effect.mapError(
      network.lookup(name, bindFamily),
      (cause) => fromCause("ConnectError", cause, { what: "resolve", address: format({ host: name, port }) })
    )
    const peer: SocketAddress = { family: familyOf(host) ?? "IPv4", host, port }
    const request = yield* validateUdpBindOptions({
      ...bindOptions,
      host: bindOptions.host ?? network.defaultConnectHost(peer),
      receiveBufferSize: options.receiveBufferSize ?? bindOptions.receiveBufferSize,
      overflow: options.overflow ?? bindOptions.overflow
    }, peer.family)
    return yield* open(network, request, (socket) => socket.connectTo(peer))
  })
