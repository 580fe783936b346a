import * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import type { AddressError, ConnectError, ReadError, WriteError } from "../../NetError.js"
import type { ConnectOptions, TcpConnection } from "../../Network.js"
import type { SocketOptions } from "../../PlatformSocket.js"
import { Network } from "../../Network.js"

const openError = (cause: ConnectError | AddressError): Socket.SocketGenericError =>
  new Socket.SocketGenericError({ reason: "Open", cause })

const readError = (cause: ReadError): Socket.SocketGenericError => new Socket.SocketGenericError({ reason: "Read", cause })

const writeError = (cause: WriteError): Socket.SocketGenericError =>
  new Socket.SocketGenericError({ reason: "Write", cause })

/**
 * What a `CloseEvent` written to a run's connection makes of that run: a
 * clean code (1000, 1006, as `@effect/platform` defines clean) ends it with
 * success, any other code fails it with `SocketCloseError`, as a WebSocket
 * run does.
 */
const closeOutcome = (event: Socket.CloseEvent): Effect.Effect<void, Socket.SocketCloseError> =>
  Socket.defaultCloseCodeIsError(event.code)
    ? Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: event.code, closeReason: event.reason }))
    : Effect.void

/** The state of one `run`: its connection and, once written, the `CloseEvent` that ends it. */
interface Run {
  readonly connection: TcpConnection
  closed: Effect.Effect<void, Socket.SocketCloseError> | undefined
}

/**
 * Reads `run.connection` chunk by chunk into `handler`, in order, with the
 * next chunk read only once the handler's effect for this one has completed:
 * the socket is never read faster than the handler works (effect-net's
 * backpressure goes on up to the handler). EOF ends the loop with success.
 */
const readSequentially = <_, E, R>(
  run: Run,
  handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void
): Effect.Effect<void, Socket.SocketError | E, R> => {
  const next: Effect.Effect<void, Socket.SocketError | E, R> = Effect.matchEffect(run.connection.recv, {
    onFailure: (error): Effect.Effect<void, Socket.SocketError> => run.closed ?? Effect.fail(readError(error)),
    onSuccess: (chunk): Effect.Effect<void, Socket.SocketError | E, R> => {
      if (run.closed !== undefined) return run.closed
      if (chunk._tag === "None") return Effect.void
      const result = handler(chunk.value)
      return Effect.isEffect(result) ? Effect.zipRight(result, next) : next
    }
  })
  return next
}

/**
 * Like `readSequentially`, but up to `concurrency` of the handler's effects
 * run at once, each in its own fiber, started in the order of the chunks;
 * no chunk is read while that many are running. The handler itself (what it
 * does before returning its effect, such as parsing) still runs chunk by
 * chunk, in order. EOF ends the loop once every effect has completed; the
 * first effect to fail fails it.
 *
 * This is what keeps @effect/rpc's client from deadlocking: a stream's
 * chunk waits in its effect for the consumer to take it, and a consumer
 * that waits for another call's reply on the same connection needs the
 * reading to go on meanwhile.
 */
const readConcurrently = <_, E, R>(
  run: Run,
  handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
  concurrency: number
): Effect.Effect<void, Socket.SocketError | E, R> =>
  Effect.scoped(Effect.gen(function*() {
    const fibers = yield* FiberSet.make<unknown, E>()
    const slots = yield* Effect.makeSemaphore(concurrency)
    // A slot is taken before each read, so that no chunk is read while
    // `concurrency` effects are running; a chunk without an effect gives
    // its slot back at once.
    const next: Effect.Effect<void, Socket.SocketError, R> = Effect.zipRight(
      slots.take(1),
      Effect.matchEffect(run.connection.recv, {
        onFailure: (error): Effect.Effect<void, Socket.SocketError> => run.closed ?? Effect.fail(readError(error)),
        onSuccess: (chunk): Effect.Effect<void, Socket.SocketError, R> => {
          if (run.closed !== undefined) return run.closed
          if (chunk._tag === "None") return FiberSet.awaitEmpty(fibers)
          const result = handler(chunk.value)
          return Effect.isEffect(result)
            ? Effect.zipRight(FiberSet.run(fibers, Effect.ensuring(result, slots.release(1))), next)
            : Effect.zipRight(slots.release(1), next)
        }
      })
    )
    return yield* Effect.raceFirst(next, FiberSet.join(fibers))
  }))

/** How many of a handler's effects run at once unless `handlerConcurrency` says otherwise. */
const defaultHandlerConcurrency = 16

/** `handlerConcurrency` as a count: at least 1, a whole number; anything else is the default. */
const handlerConcurrency = (options: SocketOptions | undefined): number => {
  const value = options?.handlerConcurrency
  return value === undefined || !(value >= 1) ? defaultHandlerConcurrency : Math.floor(value)
}

/**
 * A `Socket` over the runs `open` gives. With no `initial` run, each `run`
 * opens its own connection and closes it when it ends (`makeNet`);
 * otherwise the one connection outlives the runs and its opener closes it
 * (`fromConnection`).
 */
const make = (
  open: Effect.Effect<Run, Socket.SocketGenericError, Scope.Scope>,
  concurrency: number,
  initial?: Run
): Socket.Socket => {
  let current: Run | undefined = initial
  // Open while a connection is there to write to: writes taken before any
  // run wait on it instead of failing.
  const connected = Effect.unsafeMakeLatch(initial !== undefined)

  const run = <_, E, R>(
    handler: (chunk: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.scoped(Effect.gen(function*() {
      const state = yield* open
      if (initial === undefined) {
        // The finalizer first: an interruption can then never leave writes
        // pointed at a connection that its run has closed.
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (current !== state) return
            current = undefined
            connected.unsafeClose()
          })
        )
        current = state
        yield* connected.open
      }
      if (options?.onOpen !== undefined) yield* options.onOpen
      return yield* (concurrency === 1
        ? readSequentially(state, handler)
        : readConcurrently(state, handler, concurrency))
    })).pipe(Effect.interruptible)

  const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      // A run may end between the latch opening and this write resuming:
      // then wait for the next connection again.
      if (current === undefined) return Effect.zipRight(connected.await, write(chunk))
      if (Socket.isCloseEvent(chunk)) {
        if (current.closed === undefined) current.closed = closeOutcome(chunk)
        return current.connection.close
      }
      return Effect.mapError(current.connection.send(chunk), writeError)
    })

  // Closing the writer's scope half-closes (FIN) the connection of the
  // moment. `endWrite` sends the FIN at once and then waits for it to be
  // flushed, which a peer that reads nothing can hold up until the
  // connection closes: that wait goes on in a fiber of its own, so a scope
  // never hangs on it.
  const writer = Effect.acquireRelease(
    Effect.succeed(write),
    () => current === undefined ? Effect.void : Effect.asVoid(Effect.forkDaemon(Effect.ignore(current.connection.endWrite)))
  )

  return Socket.Socket.of({ [Socket.TypeId]: Socket.TypeId, run, runRaw: run, writer })
}

/** @internal */
export const makeNet = (options: ConnectOptions & SocketOptions): Effect.Effect<Socket.Socket, never, Network> =>
  Effect.map(Network, (network) => {
    const { handlerConcurrency: _, ...connectOptions } = options
    return make(
      Effect.map(
        Effect.mapError(network.tcpConnect(connectOptions), openError),
        (connection): Run => ({ connection, closed: undefined })
      ),
      handlerConcurrency(options)
    )
  })

/** @internal */
export const fromConnection = (connection: TcpConnection, options?: SocketOptions): Effect.Effect<Socket.Socket> =>
  Effect.sync(() => {
    const only: Run = { connection, closed: undefined }
    return make(Effect.succeed(only), handlerConcurrency(options), only)
  })
