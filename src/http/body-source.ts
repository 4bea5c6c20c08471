/**
 * A request body as chunks: the web stream of `Request.body` (every runtime), or the runtime's own
 * when reading it there is cheaper (Node: the IncomingMessage, without building a Request, a web
 * stream and an abort signal per request: `AppDeps.requestBody`).
 */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * The body a route reads: the runtime's (`requestBody`) when it offers one — null when it knows there
 * is none — else `Request.body`.
 */
export function bodySourceOf(request: Request, runtime: BodySource | null | undefined): BodySource | null {
	return runtime === undefined ? request.body : runtime;
}

/**
 * Hands each chunk to `take` until the body ends or `take` returns false; then the rest is left
 * unread (a web stream is cancelled; the runtime drains or closes what is left after the answer).
 */
export async function readChunks(source: BodySource, take: (chunk: Uint8Array) => boolean): Promise<void> {
	if ("getReader" in source) {
		const reader = source.getReader();
		let stopped = false;
		try {
			for (;;) {
				const { done, value } = await reader.read();
				if (done) return;
				if (!take(value)) {
					stopped = true;
					return;
				}
			}
		} finally {
			if (stopped) await reader.cancel().catch(() => {});
			else reader.releaseLock();
		}
	}
	for await (const chunk of source) if (!take(chunk)) return;
}
