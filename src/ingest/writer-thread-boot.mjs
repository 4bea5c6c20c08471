// The writer thread's first module (src/ingest/writer-thread.ts): plain JavaScript, so that it runs
// whatever loaded the main thread (tsx, vitest); it registers tsx in this thread and loads the
// TypeScript entry — or loads a bundle of it (.mjs) as it is.
import { workerData } from "node:worker_threads";

if (!workerData.entry.endsWith(".mjs")) {
	const { register } = await import("tsx/esm/api");
	register();
}
await import(workerData.entry);
