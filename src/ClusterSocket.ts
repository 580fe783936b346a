/**
 * The socket runners of `@effect/cluster` on effect-net: the same layers as
 * `NodeClusterSocket` of `@effect/platform-node` (without SQL storage and
 * Kubernetes health), with every runner-to-runner connection made through
 * the `Network` service, so a cluster runs on real loopback or with each
 * runner on its own `TestNetwork` host, under partitions and faults.
 *
 * Only at `effect-net/ClusterSocket`: it needs the optional peers
 * `@effect/rpc` and `@effect/cluster`, which importing `effect-net` never loads.
 *
 * @example
 * ```ts
 * import { RunnerAddress } from "@effect/cluster"
 * import { Layer, Option } from "effect"
 * import { NodeNetwork } from "effect-net"
 * import * as ClusterSocket from "effect-net/ClusterSocket"
 *
 * // A runner with in-memory storage, listening on 127.0.0.1:34431.
 * const Runner = ClusterSocket.layer({
 *   storage: "local",
 *   shardingConfig: { runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", 34431)) }
 * }).pipe(Layer.provide(NodeNetwork.layer))
 * ```
 *
 * @since 0.2.0
 */
// @effect/rpc's declarations name `globalThis.Transferable`, a DOM type, so
// a program that type-checks them (skipLibCheck off, lib without DOM) needs
// the DOM lib: this brings it along wherever this module is imported, and
// only there. `preserve` keeps the reference in the emitted .d.ts.
/// <reference lib="dom" preserve="true" />
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import type * as Runners from "@effect/cluster/Runners"
import type * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type { Sharding } from "@effect/cluster/Sharding"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type * as SocketServer from "@effect/platform/SocketServer"
import type * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type { ConfigError } from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import * as internal from "./internal/clusterSocket/layer.js"
import * as internalNdjson from "./internal/clusterSocket/ndjson.js"
import type { Network } from "./Network.js"

/**
 * How a runner reaches the others: an @effect/rpc socket client per runner
 * address, over `PlatformSocket.makeNet` (connect timeout 1 second). A
 * connection that ends is reconnected by @effect/rpc.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClientProtocol: Layer.Layer<
  Runners.RpcClientProtocol,
  never,
  RpcSerialization.RpcSerialization | Network
> = internal.layerClientProtocol

/**
 * The runner's server: `PlatformSocket.makeServer` on
 * `ShardingConfig.runnerListenAddress`, or `runnerAddress` when that is not
 * set. With neither the layer dies, as @effect/platform-node's does.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerSocketServer: Layer.Layer<
  SocketServer.SocketServer,
  SocketServer.SocketServerError,
  ShardingConfig.ShardingConfig | Network
> = internal.layerSocketServer

/**
 * What `layer` builds: the serialization between runners, whether the
 * runner hosts entities, where its storage comes from, and its sharding
 * configuration.
 *
 * @since 0.2.0
 * @category options
 */
export interface LayerOptions<ClientOnly extends boolean, Storage extends "local" | "byo"> {
  /** Default `"msgpack"`. `"ndjson"` is `layerNdjson`. */
  readonly serialization?: "msgpack" | "ndjson" | undefined
  readonly serializationMaxBufferSize?: number | "unbounded" | undefined
  /** A runner that sends to entities and hosts none: no server. */
  readonly clientOnly?: ClientOnly | undefined
  /**
   * `"local"` (the default): no message persistence and an in-memory runner
   * registry, for one process. `"byo"`: provide `MessageStorage` and
   * `RunnerStorage` yourself (for runners that must share them).
   */
  readonly storage?: Storage | undefined
  /** Over the configuration read from the environment (`ShardingConfig.layerFromEnv`). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/**
 * A whole runner: `Sharding` and `Runners` over effect-net sockets, with
 * ping health checks between runners, its `ShardingConfig` from the
 * environment over `shardingConfig`, and its storage as `storage` says.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: <const ClientOnly extends boolean = false, const Storage extends "local" | "byo" = "local">(
  options?: LayerOptions<ClientOnly, Storage>
) => Layer.Layer<
  Sharding | Runners.Runners | ("byo" extends Storage ? never : MessageStorage.MessageStorage),
  (ClientOnly extends true ? never : SocketServer.SocketServerError) | ConfigError,
  Network | ("byo" extends Storage ? MessageStorage.MessageStorage | RunnerStorage.RunnerStorage : never)
> = internal.layer

/**
 * The ndjson serialization of `@effect/rpc`, with incoming bytes decoded as one
 * UTF-8 stream. @effect/rpc's own (0.76) decodes each chunk on its own and
 * so garbles a multi-byte character that a packet boundary splits; any TCP
 * transport splits where it likes. `layer({ serialization: "ndjson" })`
 * uses this one; give it to an @effect/rpc client and server instead of
 * `RpcSerialization.layerNdjson`.
 *
 * @since 0.2.0
 * @category serialization
 */
export const layerNdjson: (options?: RpcSerialization.StreamOptions) => Layer.Layer<RpcSerialization.RpcSerialization> =
  internalNdjson.layerNdjson
