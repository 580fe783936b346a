/**
 * The `Network` service on real sockets: TCP on `node:net`, UDP on
 * `node:dgram`.
 *
 * @since 0.1.0
 */
import * as Layer from "effect/Layer"
import * as NodeTcp from "./internal/nodeTcp.js"
import * as NodeUdp from "./internal/nodeUdp.js"
import { Network } from "./Network.js"

/**
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Network> = Layer.succeed(Network, {
  tcpListen: NodeTcp.listen,
  tcpConnect: NodeTcp.connect,
  udpBind: NodeUdp.bind,
  udpConnect: NodeUdp.connect
})
