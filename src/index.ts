/**
 * effect-net: TCP and UDP sockets for Effect. Every lifecycle step is an
 * Effect with a typed error, every socket a scoped resource, accept and
 * receive loops are Streams, and programs run unchanged on real sockets
 * (`NodeNetwork`) or on a deterministic simulated network (`TestNetwork`).
 *
 * Each module is also its own subpath: `effect-net/Tcp`, `effect-net/Udp`, …
 *
 * @since 0.1.0
 */

/**
 * Socket addresses: the `SocketAddress` model, parsing, formatting, Schemas.
 *
 * @since 0.1.0
 */
export * as Address from "./Address.js"

/**
 * Framing: byte streams to messages and back (lines, length-prefixed, delimited, Schema), each decoder with a size limit.
 *
 * @since 0.1.0
 */
export * as Framing from "./Framing.js"

/**
 * The typed errors of every lifecycle step, with the errno-to-reason mapping.
 *
 * @since 0.1.0
 */
export * as NetError from "./NetError.js"

/**
 * The `Network` service that every socket comes from, and the shapes it hands out.
 *
 * @since 0.1.0
 */
export * as Network from "./Network.js"

/**
 * The `Network` service on real sockets (`node:net`, `node:dgram`).
 *
 * @since 0.1.0
 */
export * as NodeNetwork from "./NodeNetwork.js"

/**
 * The `Socket` and `SocketServer` of `@effect/platform` on `Network`, the transport of the `@effect/rpc` socket protocol.
 *
 * @since 0.2.0
 */
export * as PlatformSocket from "./PlatformSocket.js"

/**
 * A fault-injecting TCP and UDP proxy: TestNetwork's faults on real sockets.
 *
 * @since 0.2.0
 */
export * as Proxy from "./Proxy.js"

/**
 * TCP: listen, accept, serve, connect, and graceful close.
 *
 * @since 0.1.0
 */
export * as Tcp from "./Tcp.js"

/**
 * OpenTelemetry-convention spans and metrics for every socket, off unless
 * `Telemetry.layer` is provided.
 *
 * @since 0.2.0
 */
export * as Telemetry from "./Telemetry.js"

/**
 * A deterministic simulated network with injected faults, for tests.
 *
 * @since 0.1.0
 */
export * as TestNetwork from "./TestNetwork.js"

/**
 * UDP: bind, connect, send, receive.
 *
 * @since 0.1.0
 */
export * as Udp from "./Udp.js"
