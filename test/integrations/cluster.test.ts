/**
 * @effect/cluster on effect-net: two socket runners in one process sharing
 * in-memory runner and message storage (`storage: "byo"`). Runner A hosts
 * the `Greeter` entity (it has the shard group); runner B has no shards, so
 * its calls go over effect-net to A. On real loopback, and on TestNetwork
 * with each runner on its own host, partitioned and healed.
 */
import { Entity, MessageStorage, RunnerAddress, RunnerStorage, ShardingConfig } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as ClusterSocket from "../../src/ClusterSocket.js"
import type { Network } from "../../src/Network.js"
import * as NodeNetwork from "../../src/NodeNetwork.js"
import * as Tcp from "../../src/Tcp.js"
import * as TestNetwork from "../../src/TestNetwork.js"
import { checkNoSocketLeaks } from "../utils/handles.js"

checkNoSocketLeaks()

const Greeter = Entity.make("Greeter", [
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })
])

/** Says which runner answered, so a test can tell a remote call from a local one. */
const GreeterLive = Greeter.toLayer(Effect.gen(function*() {
  const runner = yield* Entity.CurrentRunnerAddress
  return {
    Greet: ({ payload }) => Effect.succeed(`hello ${payload.name} from ${runner.host}:${runner.port}`)
  }
}))

/** Intervals short enough for a test; one shard group of a few shards. */
const fastSharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardsPerGroup: 4,
  refreshAssignmentsInterval: "50 millis",
  shardLockRefreshInterval: "200 millis",
  sendRetryInterval: "50 millis",
  entityMessagePollInterval: "100 millis",
  entityReplyPollInterval: "20 millis"
}

/** A port free on `host` now: an ephemeral one, released again (runners advertise a fixed address). */
const freePort = (host: string) => Effect.scoped(Effect.map(Tcp.listen({ host }), (listener) => listener.address.port))

/**
 * Runners A (on `hosts.a`, hosting `Greeter`) and B (on `hosts.b`, no shard
 * group), over one `Network` and one shared storage, in the calling scope.
 */
const twoRunners = (hosts: { readonly a: string; readonly b: string }) =>
  Effect.gen(function*() {
    const network = yield* Effect.context<Network>()
    const storage = yield* Layer.build(Layer.merge(
      MessageStorage.layerMemory.pipe(Layer.provide(ShardingConfig.layer(fastSharding))),
      RunnerStorage.layerMemory
    ))
    const portA = yield* freePort(hosts.a)
    const portB = yield* freePort(hosts.b)
    const runner = (host: string, port: number, shardGroups: ReadonlyArray<string>) =>
      ClusterSocket.layer({
        storage: "byo",
        shardingConfig: {
          ...fastSharding,
          runnerAddress: Option.some(RunnerAddress.make(host, port)),
          assignedShardGroups: shardGroups
        }
      }).pipe(Layer.provide(Layer.succeedContext(Context.merge(network, storage))))
    const a = yield* Layer.build(Layer.provideMerge(GreeterLive, runner(hosts.a, portA, ["default"])))
    const b = yield* Layer.build(runner(hosts.b, portB, []))
    // A client-only runner: no server, no shards, the same storage.
    const c = yield* Layer.build(ClusterSocket.layer({
      storage: "byo",
      clientOnly: true,
      shardingConfig: { ...fastSharding, runnerAddress: Option.some(RunnerAddress.make(hosts.b, portB)) }
    }).pipe(Layer.provide(Layer.succeedContext(Context.merge(network, storage)))))
    const greetFrom = (context: typeof a | typeof b | typeof c, name: string) =>
      Effect.flatMap(Effect.provide(Greeter.client, context), (client) => client(name).Greet({ name }))
    return {
      portA,
      greetFromA: (name: string) => greetFrom(a, name),
      greetFromB: (name: string) => greetFrom(b, name),
      greetFromClientOnly: (name: string) => greetFrom(c, name)
    }
  })

const bounded = <A, E, R>(effect: Effect.Effect<A, E, R | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.timeout("30 seconds"))

describe("ClusterSocket", () => {
  it.live("on loopback: an entity hosted by runner A is called from runner B and from a client-only runner", () =>
    bounded(Effect.gen(function*() {
      const { greetFromA, greetFromB, greetFromClientOnly, portA } = yield* twoRunners({ a: "127.0.0.2", b: "127.0.0.3" })
      expect(yield* greetFromB("ada")).toBe(`hello ada from 127.0.0.2:${portA}`)
      expect(yield* greetFromA("grace")).toBe(`hello grace from 127.0.0.2:${portA}`)
      expect(yield* greetFromClientOnly("barbara")).toBe(`hello barbara from 127.0.0.2:${portA}`)
    })).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("storage \"local\": one runner with in-memory storage hosts and calls its entity, listening on its address", () =>
    bounded(Effect.gen(function*() {
      const port = yield* freePort("127.0.0.1")
      const context = yield* Layer.build(Layer.provideMerge(
        GreeterLive,
        ClusterSocket.layer({
          serialization: "ndjson",
          shardingConfig: { ...fastSharding, runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)) }
        })
      ))
      const client = yield* Effect.provide(Greeter.client, context)
      expect(yield* client("é€😀").Greet({ name: "é€😀" })).toBe(`hello é€😀 from 127.0.0.1:${port}`)
      // The runner's server is up on the address it advertises.
      yield* Effect.scoped(Tcp.connect({ host: "127.0.0.1", port }))
    })).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a runner whose address is taken fails with SocketServerError Open, the BindError as cause", () =>
    bounded(Effect.gen(function*() {
      const taken = yield* Tcp.listen({ host: "127.0.0.1" })
      const error = yield* Effect.flip(Layer.build(ClusterSocket.layer({
        shardingConfig: { ...fastSharding, runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", taken.address.port)) }
      })))
      expect(error).toMatchObject({ _tag: "SocketServerError", reason: "Open" })
      expect((error as { readonly cause: unknown }).cause).toMatchObject({ _tag: "BindError", reason: "AddressInUse" })
    })).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("on TestNetwork hosts: B reaches A's entity; under a partition B's call waits, and completes after heal", () =>
    bounded(Effect.gen(function*() {
      const hosts = { a: "127.0.0.2", b: "127.0.0.3" }
      const { greetFromB, portA } = yield* twoRunners(hosts)
      expect(yield* greetFromB("ada")).toBe(`hello ada from 127.0.0.2:${portA}`)

      yield* TestNetwork.partition(hosts.a, hosts.b)
      // What the caller sees: @effect/cluster neither fails the call nor
      // answers it while A is out of reach; a timeout is the caller's to set.
      const timedOut = yield* Effect.flip(greetFromB("timed").pipe(Effect.timeout("500 millis")))
      expect(timedOut._tag).toBe("TimeoutException")
      const waiting = yield* Effect.fork(greetFromB("patient"))
      yield* Effect.sleep("300 millis")
      expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)

      yield* TestNetwork.heal(hosts.a, hosts.b)
      expect(yield* Fiber.join(waiting).pipe(Effect.timeout("15 seconds"))).toBe(`hello patient from 127.0.0.2:${portA}`)
      expect(yield* greetFromB("again")).toBe(`hello again from 127.0.0.2:${portA}`)
    })).pipe(Effect.provide(TestNetwork.layer({ seed: 5 }))))
})
