/**
 * What one `Framing.schema(...).encode` costs, in µs per message: a small
 * tagged union and a batch of 100 records. `encode` parses the JSON it wrote
 * and compares it with the encoded value (so that NaN, a bigint or a Date is
 * refused rather than sent as something that does not decode back); this
 * shows what that check costs next to encoding itself.
 *
 *   npx tsx bench/schemaEncode.ts [--quick]
 *
 * The best of five timed runs is reported, after a warm-up; each run checks
 * the bytes of the last message.
 */
import { Schema } from "effect"
import * as Framing from "../src/Framing.js"
import { isMain } from "../scratchpad/isMain.js"

const Request = Schema.Union(
  Schema.TaggedStruct("Add", { a: Schema.Number, b: Schema.Number }),
  Schema.TaggedStruct("Echo", { text: Schema.String })
)
const Batch = Schema.Struct({
  items: Schema.Array(Schema.Struct({ id: Schema.Number, name: Schema.String, tags: Schema.Array(Schema.String) }))
})

interface Case {
  readonly name: string
  readonly messages: number
  readonly encode: () => Uint8Array
  readonly expectedBytes: number
}

export interface Result {
  readonly name: string
  readonly microsecondsPerMessage: number
}

const cases = (quick: boolean): ReadonlyArray<Case> => {
  const scale = quick ? 1 : 5
  const small = Framing.schema(Request)
  const batch = { items: Array.from({ length: 100 }, (_, id) => ({ id, name: `item ${id}`, tags: ["a", "b"] })) }
  const large = Framing.schema(Batch)
  return [
    {
      name: "small union",
      messages: 20_000 * scale,
      encode: () => small.encode({ _tag: "Add", a: 1, b: 2 }),
      expectedBytes: JSON.stringify({ _tag: "Add", a: 1, b: 2 }).length + 1
    },
    {
      name: "100-record batch",
      messages: 400 * scale,
      encode: () => large.encode(batch),
      expectedBytes: JSON.stringify(batch).length + 1
    }
  ]
}

const timeOnce = (run: Case): number => {
  let last: Uint8Array = new Uint8Array(0)
  const start = process.hrtime.bigint()
  for (let i = 0; i < run.messages; i++) last = run.encode()
  const elapsed = Number(process.hrtime.bigint() - start) / 1000
  if (last.length !== run.expectedBytes) throw new Error(`${run.name}: ${last.length} bytes, expected ${run.expectedBytes}`)
  return elapsed / run.messages
}

/** The best of five runs of each case, after a warm-up run. */
export const measure = (quick: boolean): ReadonlyArray<Result> =>
  cases(quick).map((run) => {
    timeOnce(run)
    const runs = Array.from({ length: 5 }, () => timeOnce(run))
    return { name: run.name, microsecondsPerMessage: Math.min(...runs) }
  })

if (isMain(import.meta.url)) {
  for (const result of measure(process.argv.includes("--quick"))) {
    console.log(`Framing.schema encode, ${result.name}: ${result.microsecondsPerMessage.toFixed(2)} µs/message`)
  }
}
