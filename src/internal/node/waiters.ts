import * as Effect from "effect/Effect"

/**
 * A list past which parked entries are all woken: only interrupted waits
 * (see `Waiters.waitThen`) can make it this long.
 */
const staleBound = 64

/**
 * A socket's buffer of data that came in, as `Waiters.wakeOncePerTurn` asks it.
 *
 * @internal
 */
export interface Arrivals {
  /** Data is buffered that no reader has taken yet. */
  hasUnread(): boolean
}

/**
 * Fibers parked until something on a socket changes (data, EOF, drain, an
 * error, close). Every waiter checks the socket's state again when woken, so
 * waking one spuriously is harmless.
 *
 * @internal
 */
export class Waiters {
  private parked: Array<() => void> = []
  /** A wake is due at the end of this event-loop turn (see `wakeOncePerTurn`). */
  private turnWakePending = false

  /**
   * Parks the calling fiber until the next `wakeAll`, then runs `next`.
   *
   * There is no canceler: Effect wraps an async with a canceler in an
   * `onInterrupt` frame, 1.3 µs on every wait, against nothing here. An
   * interrupted waiter stays listed until the next wake, where Effect ignores
   * its resume; so that a socket on which nothing happens cannot collect them
   * without end, a long list is woken at once.
   */
  waitThen<A, E>(next: () => Effect.Effect<A, E>): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      if (this.parked.length >= staleBound) this.wakeAll()
      this.parked.push(() => resume(next()))
    })
  }

  /**
   * What the end-of-turn wake asks whether data is still waiting (see
   * `wakeOncePerTurn`); without one, that wake always comes.
   */
  constructor(private readonly arrivals?: Arrivals) {}

  /**
   * Wakes for data that arrived. libuv reads up to 32 times per turn of the
   * event loop, one callback each, and a woken fiber would run after every
   * one of them and take a single read. The first read of a turn wakes at
   * once (no added latency); the rest wait for a wake right after the poll
   * phase and are taken together. One immediate serves every socket with
   * such a wake due, rather than one per socket per turn.
   *
   * That later wake comes only while `arrivals` has data waiting: in a
   * ping-pong the fiber woken by the first read took it and parked for the
   * next message, and waking it again found nothing, a fiber run per
   * message on each side.
   */
  wakeOncePerTurn(): void {
    if (this.turnWakePending) return
    this.turnWakePending = true
    if (dueAtTurnEnd.push(this) === 1) setImmediate(endTurn)
    this.wakeAll()
  }

  /** Run by the immediate that `wakeOncePerTurn` schedules. */
  endTurn(): void {
    this.turnWakePending = false
    if (this.arrivals?.hasUnread() !== false) this.wakeAll()
  }

  wakeAll(): void {
    if (this.parked.length === 0) return
    const parked = this.parked
    this.parked = []
    for (const wake of parked) wake()
  }
}

/** The waiters with a wake due at the end of this turn (see `Waiters.wakeOncePerTurn`). */
let dueAtTurnEnd: Array<Waiters> = []

const endTurn = (): void => {
  const due = dueAtTurnEnd
  dueAtTurnEnd = []
  for (const waiters of due) waiters.endTurn()
}

/**
 * Completions in a row that may resume their fibers within one event-loop
 * turn. At about 10 µs a UDP send (a loaded 2-core machine), 256 of them
 * hold timers and reads back by 2 to 3 ms. Letting the loop turn that often
 * cost 0 to 0.3 µs a send in a bare send loop, and nothing the UDP
 * benchmarks can tell from their noise; a budget of 4096 saved about 0.2 µs
 * of that at ten times the hold-up.
 *
 * @internal
 */
export const completionsPerTurn = 256

/**
 * Keeps a loop of operations that complete without a macrotask in between
 * (a UDP send's callback comes on `process.nextTick`, and the fiber resumes
 * on a microtask) from holding the event loop forever: no timer would fire,
 * no socket would be read. Once `completionsPerTurn` completions have come
 * within one turn, the next one is resumed by `setImmediate`, after which
 * the loop has turned.
 *
 * Whether a turn has passed is known from an immediate scheduled when a
 * window of completions begins: one immediate per window, none per
 * completion, so operations that wait for the network anyway (a ping-pong)
 * pay nothing they would notice.
 *
 * @internal
 */
export class TurnBudget {
  private spent = 0
  /** The immediate scheduled when the current window began has run. */
  private turned = false

  /** Calls `resume(value)` now, or on the next turn when this turn's budget is spent. */
  complete<A>(resume: (value: A) => void, value: A): void {
    if (this.spent === 0) {
      this.turned = false
      setImmediate(markTurned, this)
    }
    if (++this.spent < completionsPerTurn) return resume(value)
    this.spent = 0
    if (this.turned) resume(value)
    else setImmediate(resume, value)
  }

  /** Run by the immediate that `complete` schedules when a window begins. */
  markTurned(): void {
    this.turned = true
  }
}

const markTurned = (budget: TurnBudget): void => budget.markTurned()
