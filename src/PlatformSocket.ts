/**
 * The `Socket` and `SocketServer` of `@effect/platform` on effect-net: the
 * transport that the socket protocol of `@effect/rpc` and the socket runners
 * of `@effect/cluster` speak, over the `Network` service, so they run on real sockets
 * (`NodeNetwork`) or on simulated hosts with faults (`TestNetwork`).
 *
 * Errors keep effect-net's types underneath @effect/platform's:
 * a `SocketGenericError` (reason `"Open"`, `"Read"` or `"Write"`) has the
 * `ConnectError`, `ReadError` or `WriteError` as its `cause`, and a
 * `SocketServerError` `"Open"` has the `BindError` or `AddressError`.
 *
 * @example
 * ```ts
 * import { RpcClient, RpcSerialization } from "@effect/rpc"
 * import { Layer } from "effect"
 * import { NodeNetwork, PlatformSocket } from "effect-net"
 *
 * // The client protocol of @effect/rpc, over effect-net.
 * const ClientProtocol = RpcClient.layerProtocolSocket().pipe(
 *   Layer.provide(PlatformSocket.layerNet({ host: "127.0.0.1", port: 4000 })),
 *   Layer.provide([RpcSerialization.layerNdjson, NodeNetwork.layer])
 * )
 * ```
 *
 * @since 0.2.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as internalServer from "./internal/platformSocket/server.js"
import * as internalSocket from "./internal/platformSocket/socket.js"
import type { ConnectOptions, ListenOptions, Network, TcpConnection } from "./Network.js"
import type { ServeOptions } from "./Tcp.js"

/**
 * How a `Socket`'s `run` treats the handler's effects.
 *
 * @since 0.2.0
 * @category options
 */
export interface SocketOptions {
  /**
   * How many of the handler's effects may run at once, each started in the
   * order of its chunk; reading waits while that many are running, so the
   * socket is never read further ahead of the handler than this. `1`: one
   * chunk at a time, the next read only once its effect has completed.
   * Default 16: @effect/rpc's client needs more than one, since a stream's
   * chunk waits in its effect until the consumer takes it, and a consumer may
   * wait for another call's reply on the same connection. Values below 1
   * count as the default.
   */
  readonly handlerConcurrency?: number | undefined
}

/**
 * A `Socket` that connects through `Network` on every `run` / `runRaw`, so
 * running it again reconnects (which is how @effect/rpc's client recovers).
 *
 * - `onOpen` runs once the connection is up; the peer's EOF ends `run` with
 *   success.
 * - The handler runs chunk by chunk, in order, and the socket is not read
 *   faster than its effects complete: at most `handlerConcurrency` (default
 *   16; `1` for strictly one at a time) run at once, and reading waits
 *   while they do.
 * - `writer` may be taken before any run: a write waits until a connection
 *   is open. Closing the writer's scope half-closes (FIN);
 *   `write(new Socket.CloseEvent())` closes, ending the run (with success
 *   for a clean code, else with `SocketCloseError`).
 * - A failed connect is a `SocketGenericError` `"Open"` whose `cause` is the
 *   `ConnectError` (or `AddressError`); read and write failures are
 *   `"Read"` / `"Write"` with the `ReadError` / `WriteError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, PlatformSocket } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const socket = yield* PlatformSocket.makeNet({ host: "127.0.0.1", port: 4000, timeout: "1 second" })
 *   const write = yield* socket.writer
 *   // The write waits until `run` has connected.
 *   yield* Effect.all([socket.run((bytes) => Effect.log(`${bytes.length} bytes`)), write("hello\n")], {
 *     concurrency: "unbounded",
 *     discard: true
 *   })
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeNet: (options: ConnectOptions & SocketOptions) => Effect.Effect<Socket.Socket, never, Network> =
  internalSocket.makeNet

/**
 * `makeNet` as a layer of @effect/platform's `Socket` tag.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerNet = (options: ConnectOptions & SocketOptions): Layer.Layer<Socket.Socket, never, Network> =>
  Layer.effect(Socket.Socket, makeNet(options))

/**
 * A `Socket` over a connection that is already open, such as one a
 * `Tcp.serve` handler was given. Its runs read that connection (the first
 * one to EOF); it closes when its own scope ends, not when a run does, and
 * `write(new Socket.CloseEvent())` closes it.
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromConnection: (connection: TcpConnection, options?: SocketOptions) => Effect.Effect<Socket.Socket> =
  internalSocket.fromConnection

/**
 * A `SocketServer` on `Tcp.listen` and `Tcp.serve`: `address` is a
 * `TcpAddress` with the bound port, and `run(handler)` serves every
 * connection with `serve`'s `concurrency` limit and `shutdownTimeout` grace;
 * a failing handler is logged (at the unhandled-error level, Debug by
 * default, as in @effect/platform-node), and its connection closes when it
 * ends; each connection's `Socket` is `fromConnection` with the
 * `handlerConcurrency` given here. A failed listen is a `SocketServerError`
 * `"Open"` whose `cause` is the `BindError` or `AddressError`; a failed
 * accept ends `run` with a `SocketServerError` `"Unknown"` whose `cause` is
 * the `AcceptError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, PlatformSocket } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* PlatformSocket.makeServer({ port: 0, shutdownTimeout: "1 second" })
 *   yield* Effect.log(`listening on port ${server.address._tag === "TcpAddress" ? server.address.port : 0}`)
 *   yield* server.run((socket) => socket.run((bytes) => Effect.log(`${bytes.length} bytes`)))
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeServer: (
  options?: ListenOptions & ServeOptions & SocketOptions
) => Effect.Effect<SocketServer.SocketServer["Type"], SocketServer.SocketServerError, Network | Scope.Scope> =
  internalServer.makeServer

/**
 * `makeServer` as a layer of @effect/platform's `SocketServer` tag; the
 * listener closes when the layer's scope ends.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerServer = (
  options?: ListenOptions & ServeOptions & SocketOptions
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError, Network> =>
  Layer.scoped(SocketServer.SocketServer, makeServer(options))
