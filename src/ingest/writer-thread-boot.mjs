// The writer thread's first module (src/ingest/writer-thread.ts): plain JavaScript, so that it runs
// whatever loaded the main thread (tsx, vitest); it registers tsx in this thread and loads the
// TypeScript entry.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
