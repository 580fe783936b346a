import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as RpcClient from "@effect/rpc/RpcClient"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type { Sharding } from "@effect/cluster/Sharding"
import type { ConfigError } from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { familyOf } from "../../Address.js"
import type { LayerOptions } from "../../ClusterSocket.js"
import { Network } from "../../Network.js"
import { makeServer } from "../platformSocket/server.js"
import { makeNet } from "../platformSocket/socket.js"
import { layerNdjson } from "./ndjson.js"

/**
 * How long a runner waits for a connection to another runner, as
 * @effect/platform-node's runners do (`openTimeout: 1000`). A runner that
 * cannot be reached fails the connect with `ConnectError` `TimedOut`, which
 * @effect/rpc retries.
 */
const connectTimeout = "1 second"

/**
 * The host a runner's connections leave from: its own `runnerAddress` host
 * when that is a loopback address, so that runners on 127.0.0.2, 127.0.0.3 …
 * (on real loopback or on TestNetwork hosts, where a partition is between
 * hosts) talk from their own address. Any other address is left to the
 * system: an advertised address may not be a local one (NAT, containers).
 */
const loopbackHost = (config: Option.Option<ShardingConfig.ShardingConfig["Type"]>): string | undefined => {
  if (Option.isNone(config) || Option.isNone(config.value.runnerAddress)) return undefined
  const host = config.value.runnerAddress.value.host
  const family = familyOf(host)
  const loopback = family === "IPv4" ? host.startsWith("127.") : family === "IPv6" && host === "::1"
  return loopback ? host : undefined
}

/** @internal */
export const layerClientProtocol: Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization | Network> =
  Layer.effect(
    Runners.RpcClientProtocol,
    Effect.gen(function*() {
      const serialization = yield* RpcSerialization.RpcSerialization
      const network = yield* Network
      const localAddress = loopbackHost(yield* Effect.serviceOption(ShardingConfig.ShardingConfig))
      return (address) =>
        Effect.flatMap(
          Effect.provideService(
            makeNet({ host: address.host, port: address.port, timeout: connectTimeout, localAddress }),
            Network,
            network
          ),
          (socket) =>
            RpcClient.makeProtocolSocket().pipe(
              Effect.provideService(Socket.Socket, socket),
              Effect.provideService(RpcSerialization.RpcSerialization, serialization)
            )
        )
    })
  )

/** @internal */
export const layerSocketServer: Layer.Layer<
  SocketServer.SocketServer,
  SocketServer.SocketServerError,
  ShardingConfig.ShardingConfig | Network
> = Layer.scoped(
  SocketServer.SocketServer,
  Effect.gen(function*() {
    const config = yield* ShardingConfig.ShardingConfig
    const listenAddress = Option.orElse(config.runnerListenAddress, () => config.runnerAddress)
    if (Option.isNone(listenAddress)) {
      // A configuration that cannot run a server at all: the same defect
      // as @effect/platform-node's runner, not an error to recover from.
      return yield* Effect.dieMessage("ClusterSocket.layerSocketServer: ShardingConfig.runnerListenAddress is None")
    }
    return yield* makeServer({ host: listenAddress.value.host, port: listenAddress.value.port })
  })
)

/**
 * The options decide the layer's shape (which storage it needs, whether it
 * can fail to listen): the public signature spells that out with
 * conditional types, which TypeScript cannot follow through the branches
 * here, so the one layer built is handed out under that signature.
 *
 * @internal
 */
export const layer = <const ClientOnly extends boolean = false, const Storage extends "local" | "byo" = "local">(
  options?: LayerOptions<ClientOnly, Storage>
): Layer.Layer<
  Sharding | Runners.Runners | ("byo" extends Storage ? never : MessageStorage.MessageStorage),
  (ClientOnly extends true ? never : SocketServer.SocketServerError) | ConfigError,
  Network | ("byo" extends Storage ? MessageStorage.MessageStorage | RunnerStorage.RunnerStorage : never)
> => {
  const runners: Layer.Layer<
    Sharding | Runners.Runners,
    SocketServer.SocketServerError,
    | Network
    | RpcSerialization.RpcSerialization
    | ShardingConfig.ShardingConfig
    | MessageStorage.MessageStorage
    | RunnerStorage.RunnerStorage
  > = options?.clientOnly
    ? Layer.provide(SocketRunner.layerClientOnly, layerClientProtocol)
    : Layer.provide(SocketRunner.layer, [layerSocketServer, layerClientProtocol]).pipe(
      Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(layerClientProtocol)))
    )
  const storage: Layer.Layer<MessageStorage.MessageStorage | RunnerStorage.RunnerStorage> | undefined =
    options?.storage === "byo" ? undefined : Layer.merge(MessageStorage.layerNoop, RunnerStorage.layerMemory)
  const built = (storage === undefined ? runners : Layer.provideMerge(runners, storage)).pipe(
    Layer.provide(ShardingConfig.layerFromEnv(options?.shardingConfig)),
    Layer.provide(
      options?.serialization === "ndjson"
        ? layerNdjson({ maxBufferSize: options.serializationMaxBufferSize })
        : RpcSerialization.layerMsgPackWith({ maxBufferSize: options?.serializationMaxBufferSize })
    )
  )
  // @ts-expect-error -- see above: the same layer, under the signature that the options select
  return built
}
