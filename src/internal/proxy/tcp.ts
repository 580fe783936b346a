import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { ListenOptions, TcpConnection } from "../../Network.js"
import type { Network } from "../../Network.js"
import type { Direction, Upstream } from "../../Proxy.js"
import * as Tcp from "../../Tcp.js"
import * as TcpFront from "../shared/tcp.js"
import type { Control, Relay } from "./control.js"
import { Counters, now, sleepUntil } from "./control.js"

/**
 * Chunks one direction holds between reading and writing. Reads are at most
 * 64 KiB, so a direction buffers at most 1 MiB beyond its sockets: a slow
 * reader behind the proxy stops the proxy reading, which stops the sender.
 */
const segmentsInFlight = 16

/**
 * Between two slices of a sliced chunk: written back to back they would
 * merge again in the receiver's socket buffer.
 */
const sliceSpacingMillis = 1

/**
 * Between the last bytes `resetAfterBytes` lets through and the reset. A
 * reset that finds them unread in the peer's kernel is reported by Linux as
 * a plain EOF once they are read, so they get a moment to be read first.
 */
const resetGraceMillis = 20

/** A chunk (or the FIN, `bytes` undefined) and when it is due at the far side. */
interface Segment {
  readonly bytes: Uint8Array | undefined
  readonly due: number
}

/** The connection pair is done for: a read or write failed, or a fault reset it. */
class Broken extends Data.TaggedError("Broken") {}

/**
 * Resets a connection: the peer's reads fail with `ConnectionReset`.
 * `TcpConnection` has no reset of its own; on `NodeNetwork` the front's
 * internal reset sends the RST, on TestNetwork closing is the nearest thing
 * there is.
 */
const reset = TcpFront.reset

/**
 * Copies `from` to `to` under the faults of `direction`: a reader stamps
 * each chunk with its due time (latency and jitter, in order), a writer
 * waits for it, the stall latch and the link's bandwidth, slices it and
 * counts it against `resetAfterBytes`. The FIN goes the same way, `slowClose` after
 * the last data.
 */
const pipe = (
  from: TcpConnection,
  to: TcpConnection,
  direction: Direction,
  control: Control,
  counters: Counters
): Effect.Effect<void, Broken> =>
  Effect.gen(function*() {
    const link = control.link(direction)
    const segments = yield* Queue.bounded<Segment>(segmentsInFlight)
    let lastDue = 0
    const dueNow = () => (lastDue = Math.max(lastDue, now() + link.delay(control.random)))

    const read = Effect.gen(function*() {
      while (true) {
        const chunk = yield* from.recv
        if (Option.isNone(chunk)) {
          return yield* Queue.offer(segments, { bytes: undefined, due: dueNow() })
        }
        yield* Queue.offer(segments, { bytes: chunk.value, due: dueNow() })
      }
    })

    let sent = 0
    let lastDelivered = 0
    const write = Effect.gen(function*() {
      while (true) {
        const segment = yield* Queue.take(segments)
        yield* link.flowing.await
        yield* sleepUntil(segment.due)
        if (segment.bytes === undefined) {
          yield* sleepUntil(lastDelivered + link.faults.slowClose)
          return yield* to.endWrite
        }
        const { resetAfterBytes, sliceBytes } = link.faults
        const allowed = Math.max(0, resetAfterBytes - sent)
        const bytes = segment.bytes.length > allowed ? segment.bytes.subarray(0, allowed) : segment.bytes
        for (let offset = 0; offset < bytes.length; offset += sliceBytes) {
          const slice = bytes.subarray(offset, offset + sliceBytes)
          yield* sleepUntil(link.transmitted(slice.length))
          yield* to.send(slice)
          sent += slice.length
          lastDelivered = now()
          counters.add(direction, slice.length)
          if (sliceBytes !== Infinity) yield* sleepUntil(now() + sliceSpacingMillis)
        }
        if (bytes.length < segment.bytes.length) {
          counters.dropped++
          yield* sleepUntil(now() + resetGraceMillis)
          return yield* new Broken()
        }
      }
    })

    yield* Effect.all([read, write], { concurrency: 2, discard: true }).pipe(
      Effect.catchTags({ ReadError: () => new Broken(), WriteError: () => new Broken() })
    )
  })

/**
 * One proxied connection: the upstream connect (hung by a stall), then both
 * directions at once. When either breaks, both connections are reset, as a
 * broken middlebox does.
 */
const relay = (client: TcpConnection, upstream: Upstream, control: Control, counters: Counters) =>
  Effect.gen(function*() {
    counters.connections++
    yield* control.upstream.flowing.await
    const server = yield* Effect.option(Tcp.connect({ host: upstream.host, port: upstream.port, noDelay: true }))
    if (Option.isNone(server)) return yield* reset(client)
    yield* Effect.all([
      pipe(client, server.value, "upstream", control, counters),
      pipe(server.value, client, "downstream", control, counters)
    ], { concurrency: 2, discard: true }).pipe(
      Effect.catchAll(() => Effect.zipRight(reset(client), reset(server.value)))
    )
  })

/** Attempts at listening on the proxy's port again after `refuse` is lifted. */
const relistenAttempts = 20

/**
 * Listens and relays every connection to `upstream` until the scope ends;
 * then every proxied connection closes with it.
 *
 * `refuse` closes the listening socket, so that connects fail with
 * `ConnectionRefused` as on TestNetwork (a socket that listens cannot refuse
 * a handshake: the kernel completes it before any accept). Connections live
 * in scopes of their own, so they outlast it; lifting `refuse` listens on
 * the same address again.
 *
 * @internal
 */
export const make: Relay<ListenOptions> = (options) =>
  Effect.gen(function*() {
    const { control, upstream } = options
    const counters = new Counters()
    const proxyScope = yield* Effect.scope

    const acceptLoop = (listener: Tcp.TcpListener) =>
      Effect.forever(Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const scope = yield* Scope.fork(proxyScope, ExecutionStrategy.sequential)
          const client = yield* restore(Scope.extend(listener.accept, scope)).pipe(
            Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
          )
          // Forked from an uninterruptible region, the fiber would be too:
          // only its finalizer (closing the connection) must not be cut short.
          yield* Effect.forkIn(
            Scope.extend(Effect.interruptible(relay(client, upstream, control, counters)), scope).pipe(
              Effect.ensuring(Scope.close(scope, Exit.void))
            ),
            proxyScope
          )
        })
      ))

    /** The listening socket and its accept loop, while not refusing. */
    let listening: Scope.CloseableScope | undefined
    const listen = (listenOptions: ListenOptions) =>
      Effect.gen(function*() {
        const scope = yield* Scope.fork(proxyScope, ExecutionStrategy.sequential)
        const listener = yield* Scope.extend(Tcp.listen(listenOptions), scope).pipe(
          Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
        )
        yield* Effect.forkIn(acceptLoop(listener), scope)
        listening = scope
        return listener.address
      })

    // A proxy must not add Nagle's delay, and sliced bytes must leave one by one.
    const address = yield* listen({ noDelay: true, ...options.listen })
    const again: ListenOptions = { noDelay: true, ...options.listen, host: address.host, port: address.port }
    const lock = yield* Effect.makeSemaphore(1)
    const applyFaults = lock.withPermits(1)(Effect.suspend(() => {
      const refusing = control.upstream.faults.refuse
      if (refusing && listening !== undefined) {
        const scope = listening
        listening = undefined
        return Scope.close(scope, Exit.void)
      }
      if (!refusing && listening === undefined) {
        // The port was free a moment ago; a short retry covers the rare
        // process that takes it in between.
        return listen(again).pipe(
          Effect.retry(Schedule.intersect(Schedule.recurs(relistenAttempts - 1), Schedule.spaced("50 millis"))),
          Effect.asVoid
        )
      }
      return Effect.void
    }))
    yield* applyFaults
    // setFaults runs wherever the caller is: it brings the proxy's own Network.
    const context = yield* Effect.context<Network>()
    return { address, counters, applyFaults: Effect.provide(applyFaults, context) }
  })
