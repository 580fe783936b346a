import * as FastCheck from "effect/FastCheck"

/**
 * An `Arbitrary` built the first time a property draws from it, so that
 * importing `effect-net` (whose index includes TestNetwork) builds no test
 * machinery. It is a real `Arbitrary`: `map`, `filter`, `chain` and
 * `FastCheck.property` see no difference.
 *
 * @internal
 */
export class LazyArbitrary<A> extends FastCheck.Arbitrary<A> {
  private built: FastCheck.Arbitrary<A> | undefined = undefined

  constructor(private readonly build: () => FastCheck.Arbitrary<A>) {
    super()
  }

  private get arbitrary(): FastCheck.Arbitrary<A> {
    return this.built ??= this.build()
  }

  generate(random: FastCheck.Random, biasFactor: number | undefined): FastCheck.Value<A> {
    return this.arbitrary.generate(random, biasFactor)
  }

  canShrinkWithoutContext(value: unknown): value is A {
    return this.arbitrary.canShrinkWithoutContext(value)
  }

  shrink(value: A, context: unknown): FastCheck.Stream<FastCheck.Value<A>> {
    return this.arbitrary.shrink(value, context)
  }
}
