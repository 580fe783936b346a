/**
 * The `Network` service on real sockets: TCP on `node:net`, UDP on
 * `node:dgram`.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import { withArgumentChecks } from "./internal/shared/arguments.js"
import * as NodeTcp from "./internal/node/tcp.js"
import * as NodeUdp from "./internal/node/udp.js"
import { Network } from "./Network.js"

/**
 * The `Network` service on real sockets. Timeouts on these sockets
 * (`timeout`, `idleTimeout`, `closeTimeout`) run in real time, whatever
 * `Clock` the program has.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeNetwork, Tcp } from "effect-net"
 *
 * const program = Effect.gen(function*() {
 *   const listener = yield* Tcp.listen()
 *   return listener.address.port
 * }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Network> = Layer.succeed(
  Network,
  withArgumentChecks({
    tcpListen: NodeTcp.listen,
    tcpConnect: NodeTcp.connect,
    udpBind: NodeUdp.bind,
    udpConnect: NodeUdp.connect
  })
)
