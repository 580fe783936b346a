import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { format } from "../Address.js"
import { AcceptError } from "../NetError.js"
import type { TcpConnection, TcpListener } from "../Network.js"
import type { ServeOptions } from "../Tcp.js"
import { optionalDuration, optionalPositiveInteger } from "./options.js"
import { sleepEitherClock } from "./time.js"

const defaultShutdownTimeout = Duration.seconds(1)

/** @internal */
export const serve = <E, R>(
  listener: TcpListener,
  handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
  options?: ServeOptions
): Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>> =>
  Effect.gen(function*() {
    const invalid = (message: string) => new AcceptError({ reason: "InvalidArgument", message: `Tcp.serve: ${message}` })
    const concurrency = yield* optionalPositiveInteger(options?.concurrency, "concurrency", invalid)
    const shutdownTimeout = (yield* optionalDuration(options?.shutdownTimeout, "shutdownTimeout", invalid)) ??
      defaultShutdownTimeout
    const semaphore = concurrency === undefined ? undefined : yield* Effect.makeSemaphore(concurrency)
    const release = semaphore === undefined ? Effect.void : semaphore.release(1)
    const handlers = new Set<Fiber.RuntimeFiber<unknown>>()

    const acceptOne = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        if (semaphore !== undefined) yield* restore(semaphore.take(1))
        const scope = yield* Scope.make()
        const connection = yield* restore(Scope.extend(listener.accept, scope)).pipe(
          Effect.onError((cause) => Effect.zipRight(Scope.close(scope, Exit.failCause(cause)), release))
        )
        const fiber = yield* handler(connection).pipe(
          Scope.extend(scope),
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.void
              : Effect.logError("effect-net: connection handler failed", cause).pipe(
                Effect.annotateLogs("remoteAddress", format(connection.remoteAddress))
              )
          ),
          Effect.onExit((exit) => Effect.zipRight(Scope.close(scope, exit), release)),
          Effect.interruptible,
          Effect.forkDaemon
        )
        handlers.add(fiber)
        fiber.addObserver(() => handlers.delete(fiber))
      })
    )
    // On interruption (or a fatal accept error) stop accepting first, give
    // running handlers their grace period, then interrupt what is left.
    const shutdown = Effect.suspend(() => {
      if (handlers.size === 0) return Effect.void
      const running = Array.from(handlers)
      // This runs as a finalizer of a fiber that may be interrupted already:
      // an interruptible region there would end at once. The race (whose
      // loser must be interruptible) runs in a fiber of its own. The grace
      // period ends on the Clock or in real time, whichever is first, so that
      // a TestClock neither hangs a real server's shutdown nor loses control
      // of a simulated one.
      return Effect.raceFirst(Fiber.awaitAll(running), sleepEitherClock(shutdownTimeout)).pipe(
        Effect.interruptible,
        Effect.forkDaemon,
        Effect.flatMap(Fiber.join),
        Effect.zipRight(Effect.suspend(() => Fiber.interruptAll(Array.from(handlers))))
      )
    })
    return yield* Effect.forever(acceptOne).pipe(Effect.ensuring(shutdown))
  }) as Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>>
