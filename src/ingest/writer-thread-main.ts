import { parentPort, workerData } from "node:worker_threads";
import type { Clock } from "../clock.js";
import { submitPing } from "../heartbeats/store.js";
import { openEmbeddedWriter } from "./embedded-writer.js";
import { OtlpIngest } from "./ingest.js";
import { DEFAULT_OTLP_SETTINGS, maxStoredCharsOf } from "./settings.js";
import { serializeError } from "./thread-errors.js";
import type { GroupCommitWriter } from "./writer.js";
import type { ThreadReply, ThreadRequest, WriterThreadData } from "./writer-thread.js";

/**
 * Inside the writer thread (src/ingest/writer-thread.ts): the embedded writer and an OtlpIngest that
 * writes through it (its schema-discovery memory lives here, next to the writes it plans), answering
 * each request once its group has committed and synced.
 */
const port = parentPort;
if (!port) throw new Error("writer-thread-main runs inside a worker thread");
const { path, options } = workerData as WriterThreadData;
const { attributeLimits, maxStoredChars, ...writerOptions } = options;
/** Replies of one turn go back as one message (one wake-up of the event loop per group). */
let replies: ThreadReply[] = [];
let replying = false;
function flushReplies(): void {
	replying = false;
	if (replies.length === 0) return;
	const batch = replies;
	replies = [];
	port?.postMessage(batch);
}
function reply(message: ThreadReply): void {
	replies.push(message);
	if (replying) return;
	replying = true;
	setImmediate(flushReplies);
}

let writer: GroupCommitWriter;
try {
	writer = openEmbeddedWriter(path, writerOptions);
} catch (error) {
	port.postMessage([{ ready: false, error: serializeError(error) }]);
	port.close();
	throw error;
}
/**
 * The thread's time is the requests' time: the latest `nowMs` the event loop sent (what its clock
 * said, a test's fake one included), so the discovery memory's refresh follows the server's clock.
 */
let latestMs = 0;
const requestClock: Clock = { now: () => latestMs };
const ingest = new OtlpIngest(
	{ clock: requestClock, writer },
	Number.MAX_SAFE_INTEGER,
	attributeLimits,
	maxStoredChars ?? maxStoredCharsOf(DEFAULT_OTLP_SETTINGS),
);
reply({ ready: true });

async function handle(request: ThreadRequest): Promise<unknown> {
	switch (request.op) {
		case "otlp": {
			latestMs = Math.max(latestMs, request.input.nowMs);
			const { orgId, signal, format, body, nowMs, window } = request.input;
			return ingest.store(orgId, signal, format, body, nowMs, window);
		}
		case "ping":
			latestMs = Math.max(latestMs, request.nowMs);
			return submitPing(writer, request.input, request.nowMs);
		case "stats":
			return { ...writer.stats };
		case "close":
			writer.close();
			return null;
	}
}

/** Requests being handled: `close` answers only after each has answered (a closed port drops messages). */
const inFlight = new Set<Promise<void>>();

function receive(request: ThreadRequest): void {
	const answered = handle(request).then(
		(value) => reply({ id: request.id, ok: true, value }),
		(error: unknown) => reply({ id: request.id, ok: false, error: serializeError(error) }),
	);
	if (request.op !== "close") {
		inFlight.add(answered);
		answered.finally(() => inFlight.delete(answered));
		return;
	}
	// writer.close() (in `handle`) settled every queued write; their answers follow, then the port
	// closes once the last batch of answers has been posted.
	answered.then(async () => {
		await Promise.all(inFlight);
		flushReplies();
		port?.close();
	});
}

port.on("message", (requests: ThreadRequest[]) => {
	for (const request of requests) receive(request);
});
