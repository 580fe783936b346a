import { afterAll, afterEach, expect } from "@effect/vitest"

// Handle and request types that mean a socket (or a socket operation) is
// still alive in this process.
const socketResource = /^(TCP|UDP|GetAddrInfoReqWrap|GetNameInfoReqWrap|ShutdownWrap|WriteWrap|SendWrap)/

/** The socket-related entries of `process.getActiveResourcesInfo()`. */
export const openSocketHandles = (): Array<string> =>
  process.getActiveResourcesInfo().filter((resource) => socketResource.test(resource))

/**
 * Waits (at most `timeoutMs`) for every socket handle to be gone. Handles close
 * one event-loop turn after `close`, so a short grace period is expected.
 */
export const waitForNoSocketHandles = async (timeoutMs = 2_000): Promise<Array<string>> => {
  const deadline = Date.now() + timeoutMs
  let open = openSocketHandles()
  while (open.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10))
    open = openSocketHandles()
  }
  return open
}

/**
 * Registers checks that no socket handle is left open after each test and
 * after the file.
 */
export const checkNoSocketLeaks = (): void => {
  afterEach(async () => {
    expect(await waitForNoSocketHandles()).toEqual([])
  })
  afterAll(async () => {
    expect(await waitForNoSocketHandles()).toEqual([])
  })
}
