/**
 * The Worker side of the bench, bundled by esbuild in bench/run.ts and run by Miniflare (workerd).
 * Deps are exactly the Worker's (`buildWorkerDeps` from src/runtime/worker.ts), built once per
 * isolate; only the app around them is the bench's.
 */
import type { ExecutionContext } from "hono";
import { buildWorkerDeps, type WorkerEnv } from "../src/runtime/worker.js";
import { createBenchApp } from "./bench-app.js";

let app: ReturnType<typeof createBenchApp> | undefined;

export default {
	fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
		app ??= createBenchApp(buildWorkerDeps(env));
		return app.fetch(request, env, ctx);
	},
};
