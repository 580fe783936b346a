/**
 * The simulation's only source of randomness: mulberry32, a tiny PRNG whose
 * whole state is one 32-bit word, so a seed fixes every draw.
 *
 * @internal
 */
export class Random {
  private state: number

  constructor(seed: number) {
    this.state = Math.trunc(seed) >>> 0
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /**
   * True with probability `p`. Certain outcomes draw nothing, so a network
   * without probabilistic faults never advances the generator.
   */
  chance(p: number): boolean {
    if (p <= 0) return false
    if (p >= 1) return true
    return this.next() < p
  }
}
