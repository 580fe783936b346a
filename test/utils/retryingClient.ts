/**
 * The retrying clients of the failure-path properties, shared by the
 * simulated network's (test/testnetwork/testnetwork-properties.test.ts) and the real
 * Proxy's (test/proxy/proxy-properties.test.ts), so both check the same programs:
 * a request with a timeout and a retry schedule that returns exactly the
 * reply or fails with a typed error within its budget.
 */
import { expect } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { TcpConnection } from "../../src/Network.js"
import * as Tcp from "../../src/Tcp.js"
import type * as TestNetwork from "../../src/TestNetwork.js"
import type * as Udp from "../../src/Udp.js"
import { readAllText } from "./tcp.js"

/** An attempt that got no reply in time. */
export class RequestTimeout extends Data.TaggedError("RequestTimeout") {}

/** The generated inputs of a request property: the faults, the network's seed and the request's id. */
export const requestInputs = (faults: FastCheck.Arbitrary<TestNetwork.Faults>) => ({
  faults,
  seed: FastCheck.integer(),
  id: FastCheck.nat(1_000_000)
})

/** The reply the servers give to request `id`. */
export const replyTo = (id: number) => `reply to request ${id}`

/** The failure of `exit`, if it failed with an error (not a defect or an interruption). */
export const typedFailure = <A, E>(exit: Exit.Exit<A, E>): Option.Option<E> =>
  Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()

/** The outcome the properties allow: exactly the reply to `id`, or a typed error with one of `tags`. */
export const expectReplyOrTypedFailure = <E extends { readonly _tag: string }>(
  exit: Exit.Exit<string, E>,
  id: number,
  tags: ReadonlyArray<E["_tag"]>
) => {
  if (Exit.isSuccess(exit)) {
    expect(exit.value).toBe(replyTo(id))
  } else {
    const failure = typedFailure(exit)
    expect(Option.isSome(failure)).toBe(true)
    expect(tags).toContain(Option.getOrThrow(failure)._tag)
  }
}

/** How a TCP client retries: `attempts` connections, each given `attemptTimeout`, `retryDelay` apart. */
export interface TcpRetry {
  readonly attempts: number
  readonly attemptTimeout: Duration.Duration
  readonly retryDelay: Duration.Duration
}

/** The longest a TCP client with `retry` may take before it gives up. */
export const tcpBudget = ({ attemptTimeout, attempts, retryDelay }: TcpRetry): Duration.Duration =>
  Duration.sum(Duration.times(attemptTimeout, attempts), Duration.times(retryDelay, attempts - 1))

/** Connects with `connect`, sends request `id`, half-closes and reads the reply to EOF, retrying as `retry` says. */
export const tcpRequest = (retry: TcpRetry, connect: Tcp.ConnectOptions, id: number) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* Tcp.connect(connect)
    yield* conn.send(`request ${id}`)
    yield* conn.endWrite
    return yield* readAllText(conn)
  })).pipe(
    Effect.timeoutFail({ duration: retry.attemptTimeout, onTimeout: () => new RequestTimeout() }),
    Effect.retry(Schedule.intersect(Schedule.recurs(retry.attempts - 1), Schedule.spaced(retry.retryDelay)))
  )

/** A server's side of one TCP request: read it to EOF, reply and half-close. */
export const tcpAnswer = (conn: TcpConnection) =>
  Effect.gen(function*() {
    const received = yield* readAllText(conn)
    yield* conn.send(`reply to ${received}`)
    yield* conn.endWrite
  })

const udpAttemptTimeout = Duration.millis(500)

/** The longest a UDP client making `attempts` attempts may take before it gives up. */
export const udpBudget = (attempts: number): Duration.Duration => Duration.times(udpAttemptTimeout, attempts)

const decoder = new TextDecoder()

const text = (bytes: Uint8Array) => decoder.decode(bytes)

/** Up to `attempts` attempts, each: send, then wait for the matching reply (duplicates and strays ignored). */
export const udpRequest = (socket: Udp.UdpSocket, id: number, attempts: number) =>
  Effect.gen(function*() {
    yield* socket.send(`request ${id}`)
    for (let i = 0; i < 100; i++) {
      const reply = text((yield* socket.recv).payload)
      if (reply === replyTo(id)) return reply
    }
    return yield* new RequestTimeout()
  }).pipe(
    Effect.timeoutFail({ duration: udpAttemptTimeout, onTimeout: () => new RequestTimeout() }),
    Effect.retry({ times: attempts - 1 })
  )

/** A UDP server's answer to a datagram: the reply, sent back to where it came from. */
export const udpAnswer = (server: Udp.UdpSocket) => (datagram: Udp.Datagram) =>
  server.send(`reply to ${text(datagram.payload)}`, datagram.from)
