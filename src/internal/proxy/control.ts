import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { SocketAddress } from "../../Address.js"
import type { AddressError, BindError } from "../../NetError.js"
import type { Network } from "../../Network.js"
import type { Direction, Upstream } from "../../Proxy.js"
import type { Faults } from "../../TestNetwork.js"
import * as Fault from "../testNetwork/faults.js"
import { Random } from "../testNetwork/random.js"
import { sleepReal } from "../shared/time.js"

/** @internal */
export const defaultSeed = 0x5eed

/**
 * Milliseconds on the host's clock: proxied traffic is real traffic.
 *
 * @internal
 */
export const now = (): number => performance.now()

/**
 * Sleeps until `due` (a `now()` reading) in real time, or not at all when it
 * has passed.
 *
 * @internal
 */
export const sleepUntil = (due: number): Effect.Effect<void> => {
  const wait = due - now()
  return wait <= 0 ? Effect.void : sleepReal(Duration.millis(wait))
}

/**
 * The faults of one direction and what they share between its connections:
 * the link's bandwidth (traffic queues behind earlier traffic, as on
 * TestNetwork) and the stall latch.
 */
class Link {
  faults: Fault.Shape = Fault.none
  /** When the link has finished sending what was given to it so far. */
  private busyUntil = 0

  constructor(readonly flowing: Effect.Latch) {}

  set(faults: Faults): void {
    this.faults = Fault.shape(faults)
    if (this.faults.stall) this.flowing.unsafeClose()
    else this.flowing.unsafeOpen()
  }

  /** When `bytes` bytes handed over now have crossed the link. */
  transmitted(bytes: number): number {
    const start = Math.max(now(), this.busyUntil)
    if (this.faults.bandwidth === Infinity) return start
    this.busyUntil = start + (bytes * 1000) / this.faults.bandwidth
    return this.busyUntil
  }

  /** Latency plus a uniformly random share of the jitter, drawn from the seed. */
  delay(random: Random): number {
    const { jitter, latency } = this.faults
    return jitter > 0 ? latency + random.next() * jitter : latency
  }
}

/**
 * The faults a proxy applies, per direction, changeable while it runs, and
 * the one seeded generator every random choice comes from.
 *
 * @internal
 */
export class Control {
  readonly random: Random
  readonly upstream: Link
  readonly downstream: Link

  private constructor(seed: number, upstream: Effect.Latch, downstream: Effect.Latch) {
    this.random = new Random(seed)
    this.upstream = new Link(upstream)
    this.downstream = new Link(downstream)
  }

  static make(faults: Faults, seed: number): Effect.Effect<Control> {
    return Effect.map(Effect.all([Effect.makeLatch(true), Effect.makeLatch(true)]), ([upstream, downstream]) => {
      const control = new Control(seed, upstream, downstream)
      control.set(faults, "both")
      return control
    })
  }

  link(direction: Direction): Link {
    return direction === "upstream" ? this.upstream : this.downstream
  }

  /** Replaces the faults of one direction or both; `faults` is already valid. */
  set(faults: Faults, direction: Direction | "both"): void {
    if (direction !== "downstream") this.upstream.set(faults)
    if (direction !== "upstream") this.downstream.set(faults)
  }
}

/**
 * Counters behind `stats`.
 *
 * @internal
 */
export class Counters {
  connections = 0
  bytesUp = 0
  bytesDown = 0
  dropped = 0

  add(direction: Direction, bytes: number): void {
    if (direction === "upstream") this.bytesUp += bytes
    else this.bytesDown += bytes
  }

  get snapshot() {
    return { connections: this.connections, bytesUp: this.bytesUp, bytesDown: this.bytesDown, dropped: this.dropped }
  }
}

/**
 * What a running relay (TCP or UDP) gives its proxy.
 *
 * @internal
 */
export interface Running {
  readonly address: SocketAddress
  readonly counters: Counters
  /** Brings what is open in line with the faults just set (TCP: the listening socket with `refuse`). */
  readonly applyFaults: Effect.Effect<void, BindError | AddressError>
}

/**
 * Starts a relay (TCP or UDP) on `listen` to `upstream` under `control`,
 * until the scope ends.
 *
 * @internal
 */
export type Relay<Listen> = (options: {
  readonly listen: Listen
  readonly upstream: Upstream
  readonly control: Control
}) => Effect.Effect<Running, BindError | AddressError, Network | Scope.Scope>
