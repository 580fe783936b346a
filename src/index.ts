/**
 * @since 0.1.0
 */
export * as Address from "./Address.js"

/**
 * @since 0.1.0
 */
export * as Framing from "./Framing.js"

/**
 * @since 0.1.0
 */
export * as NetError from "./NetError.js"

/**
 * @since 0.1.0
 */
export * as Network from "./Network.js"

/**
 * @since 0.1.0
 */
export * as NodeNetwork from "./NodeNetwork.js"

/**
 * @since 0.1.0
 */
export * as Tcp from "./Tcp.js"

/**
 * @since 0.1.0
 */
export * as TestNetwork from "./TestNetwork.js"

/**
 * @since 0.1.0
 */
export * as Udp from "./Udp.js"
