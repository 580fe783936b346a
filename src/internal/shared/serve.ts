import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import { format } from "../../Address.js"
import { AcceptError } from "../../NetError.js"
import type { TcpConnection, TcpListener } from "../../Network.js"
import type { ServeOptions } from "../../Tcp.js"
import { optionalDuration, optionalPositiveInteger } from "./options.js"
import { isEnabled, servedConnection } from "./telemetry.js"
import { sleepEitherClock } from "./time.js"

const defaultShutdownTimeout = Duration.seconds(1)

/** @internal */
export const serve = <E, R>(
  listener: TcpListener,
  handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
  options?: ServeOptions
): Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>> =>
  Effect.scoped(Effect.gen(function*() {
    const invalid = (message: string) => new AcceptError({ reason: "InvalidArgument", message: `Tcp.serve: ${message}` })
    const concurrency = yield* optionalPositiveInteger(options?.concurrency, "concurrency", invalid)
    const shutdownTimeout = (yield* optionalDuration(options?.shutdownTimeout, "shutdownTimeout", invalid)) ??
      defaultShutdownTimeout
    const semaphore = concurrency === undefined ? undefined : yield* Effect.makeSemaphore(concurrency)
    const release = semaphore === undefined ? Effect.void : semaphore.release(1)
    // The handlers' fibers: a FiberSet interrupts those still running when
    // this scope closes, which is after `shutdown` has given them their
    // grace period. It costs a connection what a plain Set would (an entry
    // and an observer that removes it).
    const handlers = yield* FiberSet.make()
    const traced = yield* isEnabled
    const handle = (connection: TcpConnection) =>
      traced ? servedConnection(listener.address, connection.remoteAddress, handler(connection)) : handler(connection)

    const finish = (scope: Scope.CloseableScope, exit: Exit.Exit<unknown, unknown>) =>
      Effect.zipRight(Scope.close(scope, exit), release)
    // The handler's fiber starts uninterruptible, as it is forked inside
    // `uninterruptibleMask`: only the handler itself is interruptible, so the
    // scope is always closed. The scope goes into the fiber's own context
    // instead of through `Scope.extend`: the fiber ends with the handler, so
    // there is nothing to restore, and an idle connection does not hold the
    // frames that `Scope.extend` keeps while it runs.
    const runHandler = (connection: TcpConnection, scope: Scope.CloseableScope) =>
      FiberRef.update(FiberRef.currentContext, (context) => Context.add(context, Scope.Scope, scope)).pipe(
        Effect.zipRight(Effect.interruptible(handle(connection))),
        Effect.matchCauseEffect({
          onFailure: (cause) =>
            Cause.isInterruptedOnly(cause)
              ? finish(scope, Exit.failCause(cause))
              : Effect.logError("effect-net: connection handler failed", cause).pipe(
                Effect.annotateLogs("remoteAddress", format(connection.remoteAddress)),
                Effect.zipRight(finish(scope, Exit.failCause(cause)))
              ),
          onSuccess: () => finish(scope, Exit.void)
        })
      )

    // A chain of `flatMap`s rather than `Effect.gen`: this runs once per
    // accepted connection.
    const acceptInto = (restore: <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.Effect<A, E2, R2>) =>
      Effect.flatMap(Scope.make(), (scope) =>
        restore(Scope.extend(listener.accept, scope)).pipe(
          Effect.onError((cause) => finish(scope, Exit.failCause(cause))),
          Effect.flatMap((connection) => FiberSet.run(handlers, runHandler(connection, scope)))
        ))
    const acceptOne = Effect.uninterruptibleMask((restore) =>
      semaphore === undefined
        ? acceptInto(restore)
        : Effect.zipRight(restore(semaphore.take(1)), acceptInto(restore))
    )
    // On interruption (or a fatal accept error) stop accepting first and give
    // running handlers their grace period; closing the scope then interrupts
    // what is left. This runs as a finalizer of a fiber that may be
    // interrupted already: an interruptible region there would end at once.
    // The race (whose loser must be interruptible) runs in a fiber of its
    // own. The grace period ends on the Clock or in real time, whichever is
    // first, so that a TestClock neither hangs a real server's shutdown nor
    // loses control of a simulated one.
    const shutdown = Effect.raceFirst(FiberSet.awaitEmpty(handlers), sleepEitherClock(shutdownTimeout)).pipe(
      Effect.interruptible,
      Effect.forkDaemon,
      Effect.flatMap(Fiber.join)
    )
    return yield* Effect.forever(acceptOne).pipe(Effect.ensuring(shutdown))
  })) as Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>>
