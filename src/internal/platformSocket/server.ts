import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import type { ListenOptions } from "../../Network.js"
import { Network } from "../../Network.js"
import type { SocketOptions } from "../../PlatformSocket.js"
import type { ServeOptions } from "../../Tcp.js"
import * as internalServe from "../shared/serve.js"
import { fromConnection } from "./socket.js"

/**
 * Logs a handler's failure at the fiber's unhandled-error level (Debug
 * unless changed with `Effect.withUnhandledErrorLogLevel`), as
 * @effect/platform-node's `SocketServer` does: a client that resets its
 * connection fails the handler that reads it (@effect/rpc's server turns
 * that read error into a defect), which is news to no one running a server.
 */
const logHandlerFailure = <E>(cause: Cause.Cause<E>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.flatMap(FiberRef.get(FiberRef.unhandledErrorLogLevel), (level) =>
    level._tag === "Some"
      ? Effect.logWithLevel(level.value, "effect-net: SocketServer handler failed", cause)
      : Effect.void)

/** @internal */
export const makeServer = (
  options?: ListenOptions & ServeOptions & SocketOptions
): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Network | Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* Network
    const { concurrency, handlerConcurrency, shutdownTimeout, ...listenOptions } = options ?? {}
    const listener = yield* Effect.mapError(
      network.tcpListen(listenOptions),
      (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })
    )
    const serveOptions: ServeOptions = { concurrency, shutdownTimeout }
    return SocketServer.SocketServer.of({
      address: { _tag: "TcpAddress", hostname: listener.address.host, port: listener.address.port },
      run: (handler) =>
        internalServe.serve(listener, (connection) =>
            fromConnection(connection, { handlerConcurrency }).pipe(Effect.flatMap(handler), Effect.catchAllCause(logHandlerFailure)), serveOptions)
          .pipe(Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })))
    })
  })
