import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { format } from "../Address.js"
import type { AcceptError } from "../NetError.js"
import type { TcpConnection, TcpListener } from "../Network.js"

/** @internal */
export interface ServeOptions {
  readonly concurrency?: number | undefined
  readonly shutdownTimeout?: Duration.DurationInput | undefined
}

const defaultShutdownTimeout = Duration.seconds(1)

/** @internal */
export const serve = <E, R>(
  listener: TcpListener,
  handler: (connection: TcpConnection) => Effect.Effect<unknown, E, R>,
  options?: ServeOptions
): Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>> =>
  Effect.suspend(() => {
    const concurrency = options?.concurrency
    if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
      return Effect.dieMessage(`Tcp.serve: concurrency must be a positive integer, got ${concurrency}`)
    }
    const shutdownTimeout = Duration.decode(options?.shutdownTimeout ?? defaultShutdownTimeout)
    const handlers = new Set<Fiber.RuntimeFiber<unknown>>()
    return Effect.flatMap(
      concurrency === undefined ? Effect.succeed(undefined) : Effect.makeSemaphore(concurrency),
      (semaphore) => {
        const release = semaphore === undefined ? Effect.void : semaphore.release(1)
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
          // Finalizers run uninterruptibly, and a timeout cannot cut short an
          // uninterruptible wait: the wait itself must be interruptible.
          return Effect.interruptible(Fiber.awaitAll(running)).pipe(
            Effect.timeoutOption(shutdownTimeout),
            Effect.zipRight(Effect.suspend(() => Fiber.interruptAll(Array.from(handlers))))
          )
        })
        return Effect.forever(acceptOne).pipe(Effect.ensuring(shutdown))
      }
    ) as Effect.Effect<never, AcceptError, Exclude<R, Scope.Scope>>
  })
