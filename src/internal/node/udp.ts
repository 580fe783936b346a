/**
 * UDP on `node:dgram`: the backend the shared front (`shared/udp.ts`) builds
 * `UdpSocket` on.
 *
 * A `NodeUdpSocket` owns one dgram socket from the moment it is created: its
 * `'error'`, `'message'` and `'close'` listeners are attached before anything
 * else, so no event is ever unhandled. A `'message'` goes straight into the
 * front's receive buffer and wakes the receivers; they take from the buffer
 * themselves.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import * as Net from "node:net"
import * as Address from "../../Address.js"
import type { SocketAddress } from "../../Address.js"
import type { AddressError, BindError, ConnectError } from "../../NetError.js"
import { fromCause } from "../../NetError.js"
import type { UdpBindOptions, UdpConnectOptions, UdpSocket } from "../../Udp.js"
import { afterReal } from "../shared/time.js"
import * as Front from "../shared/udp.js"
import type { Destination, Inbox, UdpBackend, UdpSocketBackend, UdpSocketSettings } from "../shared/udpBackend.js"
import { lookupHost } from "./dns.js"
import { TurnBudget, Waiters } from "./waiters.js"

class NodeUdpSocket implements UdpSocketBackend {
  private readonly socket: Dgram.Socket
  /** Receivers waiting for a datagram, an error or close. */
  private readonly waiters = new Waiters()
  /** An `'error'` event not yet reported: the next recv or send fails with it. */
  private failure: { readonly cause: unknown } | undefined = undefined
  /** Bind or connect in progress: it gets the `'error'` events. */
  private pendingStep: ((error: unknown) => void) | undefined = undefined
  private state: "open" | "closing" | "closed" = "open"
  private closeWaiters: Array<() => void> = []
  /** Sends complete without a macrotask in between: see `TurnBudget`. */
  private readonly sendBudget = new TurnBudget()
  address: SocketAddress

  constructor(private readonly settings: UdpSocketSettings, private readonly inbox: Inbox) {
    this.address = { family: settings.family, host: settings.host, port: settings.port }
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
      this.failure = { cause: error }
      this.waiters.wakeAll()
    }
  }

  private readonly onMessage = (payload: Buffer, info: Dgram.RemoteInfo): void => {
    if (this.state !== "open") return
    if (this.inbox.offer({ payload, from: { family: info.family, host: info.address, port: info.port } })) {
      this.wakeForArrival()
    }
  }

  /** A wake of the receivers is due at the end of this turn's reads (see `wakeForArrival`). */
  private wakePending = false

  /**
   * Wakes the receivers for a datagram that arrived: at once for the first
   * of a turn of the event loop (a reply goes out before libuv reads on),
   * and right after the turn's reads only when datagrams are still waiting.
   * libuv reads up to 32 datagrams per turn, one callback each; a receiver
   * woken after every one would take them one by one. `Waiters.wakeOncePerTurn`
   * wakes at the end of every such turn, which a receiver that took its
   * datagram at once woke for with nothing to find: in a ping-pong, a fiber
   * run and a new timer every round trip.
   */
  private wakeForArrival(): void {
    if (this.wakePending) return
    this.wakePending = true
    setImmediate(wakeIfWaiting, this)
    this.waiters.wakeAll()
  }

  /** Run by the immediate that `wakeForArrival` schedules. */
  wakeIfWaiting(): void {
    this.wakePending = false
    if (this.inbox.size > 0) this.waiters.wakeAll()
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

  atNow<A, E>(step: (now: number) => Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.suspend(() => step(Date.now()))
  }

  wait<A, E>(_ready: () => boolean, next: () => Effect.Effect<A, E>, deadline = Infinity): Effect.Effect<A, E> {
    if (deadline !== Infinity) this.wakeBy(deadline)
    return this.waiters.waitThen(next)
  }

  /** The one timer that wakes the receivers at the earliest deadline one of them waits for. */
  private deadlineTimer: { readonly at: number; readonly cancel: () => void } | undefined = undefined

  /**
   * Makes sure the receivers are woken by `deadline` (real time). One timer
   * serves every deadline: those of a receive loop only grow, so the timer
   * set for one still stands when the next comes, where a timer per wait
   * cost a timer and a canceler for interruption on every receive. A
   * receiver woken before its deadline parks again and sets it; an
   * interrupted one leaves no timer of its own; close cancels this one.
   */
  private wakeBy(deadline: number): void {
    const armed = this.deadlineTimer
    if (armed !== undefined) {
      if (armed.at <= deadline) return
      armed.cancel()
    }
    this.deadlineTimer = {
      at: deadline,
      cancel: afterReal(Duration.millis(Math.max(0, deadline - Date.now())), () => {
        this.deadlineTimer = undefined
        this.waiters.wakeAll()
      })
    }
  }

  takeFailure(): { readonly cause: unknown } | undefined {
    const failure = this.failure
    if (failure !== undefined) this.failure = undefined
    return failure
  }

  toBytes(payload: Uint8Array | string): Uint8Array {
    return typeof payload === "string" ? Buffer.from(payload, "utf8") : payload
  }

  transmit(bytes: Uint8Array, to: Destination | undefined, _now: number, done: (cause?: unknown) => void): void {
    const callback = (error: Error | null) => this.sendBudget.complete(done, error ?? undefined)
    try {
      if (to === undefined) this.socket.send(bytes, callback)
      else this.socket.send(bytes, to.port, to.host, callback)
    } catch (error) {
      this.sendBudget.complete(done, error)
    }
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

  connect(peer: SocketAddress): Effect.Effect<void, ConnectError> {
    return this.step(
      // Node reports a failed connect through the callback's argument.
      (done) => this.socket.connect(peer.port, peer.host, done as () => void),
      (error) => fromCause("ConnectError", error, { what: "connect to", address: Address.format(peer) })
    ).pipe(Effect.tap(() => {
      // Bound to a wildcard, the socket has its real source address only now.
      this.refreshAddress()
    }))
  }

  private refreshAddress(): void {
    const local = this.socket.address()
    this.address = { family: Address.familyOf(local.address) ?? this.settings.family, host: local.address, port: local.port }
  }

  join(group: string, iface: string | undefined): void {
    this.socket.addMembership(group, iface)
  }

  leave(group: string, iface: string | undefined): void {
    try {
      this.socket.dropMembership(group, iface)
    } catch {
      // The socket is already closed, which left the group.
    }
  }

  readonly close: Effect.Effect<void> = Effect.async<void>((resume) => {
    if (this.state === "closed") return resume(Effect.void)
    this.closeWaiters.push(() => resume(Effect.void))
    if (this.state === "open") {
      this.state = "closing"
      this.deadlineTimer?.cancel()
      this.deadlineTimer = undefined
      this.waiters.wakeAll()
      try {
        this.socket.close()
      } catch {
        // Never bound or already gone: there is no 'close' event to wait for.
        this.onClose()
      }
    }
  })
}

const wakeIfWaiting = (socket: NodeUdpSocket): void => socket.wakeIfWaiting()

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

const identity = (cause: unknown): unknown => cause

/** Real sockets for the shared front. */
const nodeUdp: UdpBackend = {
  lookup: (host, family) => lookupHost(host, family === "IPv6" ? 6 : family === "IPv4" ? 4 : 0, identity),
  // On loopback when the peer is (undefined: the family's own loopback),
  // else on the wildcard address so the kernel can pick a route; a connected
  // socket hears only its peer either way. An IPv6 socket reaches an
  // IPv4-mapped peer only from an IPv4-mapped address (from `::1` the route
  // is unreachable), so a mapped loopback peer gets the mapped loopback, and
  // the socket's address, the peer and every `from` stay in the mapped form
  // the caller used.
  defaultConnectHost: (peer) => {
    if (peer.host === "::1" || /^127\./.test(peer.host)) return undefined
    if (/^::ffff:127\./i.test(peer.host)) return "::ffff:127.0.0.1"
    return peer.family === "IPv6" ? "::" : "0.0.0.0"
  },
  open: (settings, inbox) =>
    Effect.suspend(() => {
      const socket = new NodeUdpSocket(settings, inbox)
      return socket.bindSocket.pipe(Effect.onError(() => socket.close), Effect.as(socket))
    })
}

/** @internal */
export const bind = (options: UdpBindOptions): Effect.Effect<UdpSocket, BindError | AddressError, Scope.Scope> =>
  Front.bind(nodeUdp, options)

/** @internal */
export const connect = (
  options: UdpConnectOptions
): Effect.Effect<UdpSocket, BindError | ConnectError | AddressError, Scope.Scope> => Front.connect(nodeUdp, options)
