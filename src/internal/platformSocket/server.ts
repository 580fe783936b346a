import * as SocketServer from "@effect/platform/SocketServer"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ListenOptions } from "../../Network.js"
import { Network } from "../../Network.js"
import type { ServeOptions } from "../../Tcp.js"
import * as internalServe from "../serve.js"
import { fromConnection } from "./socket.js"

/** @internal */
export const makeServer = (
  options?: ListenOptions & ServeOptions
): Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Network | Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* Network
    const listener = yield* Effect.mapError(
      network.tcpListen(options ?? {}),
      (cause) => new SocketServer.SocketServerError({ reason: "Open", cause })
    )
    const serveOptions: ServeOptions = { concurrency: options?.concurrency, shutdownTimeout: options?.shutdownTimeout }
    return SocketServer.SocketServer.of({
      address: { _tag: "TcpAddress", hostname: listener.address.host, port: listener.address.port },
      run: (handler) =>
        internalServe.serve(listener, (connection) => Effect.flatMap(fromConnection(connection), handler), serveOptions)
          .pipe(Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Unknown", cause })))
    })
  })
