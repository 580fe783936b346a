import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { SocketAddress } from "../../Address.js"
import { format } from "../../Address.js"
import type { SendError } from "../../NetError.js"
import type { Network, UdpBindOptions } from "../../Network.js"
import type { Direction } from "../../Proxy.js"
import * as Udp from "../../Udp.js"
import type { Relay } from "./control.js"
import { Counters, now, sleepUntil } from "./control.js"

/**
 * Datagrams waiting for their latency at once. UDP has no backpressure, so
 * past this the proxy drops (and counts) rather than hold without limit.
 */
const maxDelayed = 4096

/**
 * Clients served at once, each with its own upstream socket, kept until the
 * proxy closes; datagrams from further clients are dropped and counted.
 */
const maxSessions = 1024

/** One direction of one client's traffic: where `reorder` holds a datagram back. */
interface Flow {
  /** Lets the datagram held back by `reorder` go once a later one has passed it. */
  held: Deferred.Deferred<void> | undefined
}

/**
 * Relays datagrams between clients and `upstream`: each client gets its own
 * upstream socket (so replies find their way back), and each datagram the
 * faults of its direction.
 *
 * @internal
 */
export const make: Relay<UdpBindOptions> = (options) =>
  Effect.gen(function*() {
    const { control, upstream } = options
    const random = control.random
    const counters = new Counters()
    const scope = yield* Effect.scope
    const front = yield* Udp.bind(options.listen)
    let delayed = 0

    const drop = Effect.sync(() => {
      counters.dropped++
    })

    const sendCounted = (direction: Direction, payload: Uint8Array, send: (payload: Uint8Array) => Effect.Effect<void, SendError>) =>
      send(payload).pipe(
        Effect.matchEffect({ onFailure: () => drop, onSuccess: () => Effect.sync(() => counters.add(direction, payload.length)) })
      )

    /**
     * A datagram under its direction's faults, as TestNetwork treats one:
     * lost, doubled, late (latency, jitter, bandwidth), or held back for at
     * most one more latency (1 ms at least) until the next one of its flow
     * has overtaken it.
     */
    const deliver = (
      direction: Direction,
      flow: Flow,
      payload: Uint8Array,
      send: (payload: Uint8Array) => Effect.Effect<void, SendError>
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        const link = control.link(direction)
        const faults = link.faults
        if (random.chance(faults.drop)) return drop
        const copies = random.chance(faults.duplicate) ? 2 : 1
        const overtaken = flow.held
        flow.held = undefined
        const due = Math.max(now() + link.delay(random), link.transmitted(payload.length * copies))
        const release = overtaken === undefined ? Effect.void : Deferred.succeed(overtaken, undefined)
        const deferred = overtaken === undefined && random.chance(faults.reorder)
        const sendAll = Effect.zipRight(Effect.replicateEffect(sendCounted(direction, payload, send), copies), release)
        if (!deferred && due <= now()) return sendAll
        if (delayed >= maxDelayed) return Effect.zipRight(drop, release)
        delayed++
        return Effect.gen(function*() {
          if (deferred) {
            const held = yield* Deferred.make<void>()
            flow.held = held
            yield* Effect.raceFirst(Deferred.await(held), sleepUntil(due + Math.max(1, faults.latency)))
          } else {
            yield* sleepUntil(due)
          }
          yield* sendAll
        }).pipe(Effect.ensuring(Effect.sync(() => delayed--)), Effect.forkIn(scope), Effect.asVoid)
      })

    interface Session {
      readonly socket: Udp.UdpSocket
      readonly up: Flow
    }
    const sessions = new Map<string, Session>()

    const open = (client: SocketAddress): Effect.Effect<Session | undefined, never, Network> =>
      Effect.gen(function*() {
        const socket = yield* Scope.extend(Udp.connect({ host: upstream.host, port: upstream.port }), scope)
        const session: Session = { socket, up: { held: undefined } }
        const down: Flow = { held: undefined }
        yield* Effect.forkIn(
          Stream.runForEach(socket.datagrams, (reply) =>
            deliver("downstream", down, reply.payload, (payload) => front.send(payload, client))),
          scope
        )
        counters.connections++
        return session
      }).pipe(Effect.orElseSucceed(() => undefined))

    const sessionOf = (client: SocketAddress): Effect.Effect<Session | undefined, never, Network> =>
      Effect.suspend(() => {
        const key = format(client)
        const known = sessions.get(key)
        if (known !== undefined) return Effect.succeed(known)
        if (sessions.size >= maxSessions) return Effect.succeed(undefined)
        return Effect.tap(open(client), (session) => {
          if (session !== undefined) sessions.set(key, session)
        })
      })

    yield* Effect.forkScoped(
      Stream.runForEach(front.datagrams, (datagram) =>
        Effect.flatMap(sessionOf(datagram.from), (session) =>
          session === undefined
            ? drop
            : deliver("upstream", session.up, datagram.payload, (payload) => session.socket.send(payload))))
    )
    return { address: front.address, counters, applyFaults: Effect.void }
  })
