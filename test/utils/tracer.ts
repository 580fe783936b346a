/**
 * A Tracer for tests that keeps every span it starts: name, parent, links,
 * kind, attributes and how it ended.
 */
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

export interface Recorded {
  readonly name: string
  readonly spanId: string
  readonly parent: string | undefined
  readonly links: Array<string>
  readonly kind: Tracer.SpanKind
  readonly attributes: Map<string, unknown>
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** A Tracer that keeps every span it starts. */
export const recordingTracer = () => {
  const spans: Array<Recorded> = []
  let ids = 0
  const tracer = Tracer.make({
    span(name, parent, context, links, startTime, kind) {
      const spanId = `span-${++ids}`
      const recorded: Recorded = {
        name,
        spanId,
        parent: Option.getOrUndefined(Option.map(parent, (span) => span.spanId)),
        links: links.map((link) => link.span.spanId),
        kind,
        attributes: new Map(),
        exit: undefined
      }
      spans.push(recorded)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId,
        traceId: "trace",
        parent,
        context,
        get status(): Tracer.SpanStatus {
          return recorded.exit === undefined
            ? { _tag: "Started", startTime }
            : { _tag: "Ended", startTime, endTime: startTime, exit: recorded.exit }
        },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end(_endTime, exit) {
          recorded.exit = exit
        },
        attribute(key, value) {
          recorded.attributes.set(key, value)
        },
        event() {},
        addLinks(added) {
          recorded.links.push(...added.map((link) => link.span.spanId))
        }
      }
      return span
    },
    context: (f) => f()
  })
  const named = (name: string) => spans.filter((span) => span.name === name)
  return { tracer, spans, named }
}

/** A span's attributes as an object (`{}` for no span). */
export const attributesOf = (span: Recorded | undefined) => Object.fromEntries(span?.attributes ?? [])

/** Whether a span has ended, and how. */
export const endedWith = (span: Recorded | undefined): "success" | "failure" | "running" =>
  span?.exit === undefined ? "running" : Exit.isSuccess(span.exit) ? "success" : "failure"
