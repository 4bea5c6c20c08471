import type { AppDeps } from "../app-env.js";
import type { SessionActor } from "../auth/session-access.js";
import { ApiError } from "../errors.js";
import { queryInstantSchema, toRfc3339 } from "../http/time.js";
import type { OqlResult } from "../oql/execute.js";
import type { Dashboard } from "./dashboards.js";
import { durationMs, LIMITS } from "./dashboards-model.js";
import { type PanelError, panelError, runQuery } from "./dashboards-oql.js";
import { visibleQueryTexts } from "./dashboards-saved-queries.js";

/**
 * `GET /api/v1/dashboards/:id/data`: every panel run over one time range with the variables bound,
 * each answering on its own, so a broken panel never hides the others.
 */

/**
 * Panels run at most this many at a time. A Worker has 6 simultaneous outgoing connections (the
 * rest queue inside the runtime anyway), and a bound keeps one dashboard from flooding the database.
 */
export const PANEL_CONCURRENCY = 6;

export interface DataRequest {
	from: number;
	to: number;
	/** Every variable of the dashboard: its value, or null when it has none. */
	variables: Record<string, string | null>;
}

/** The answer of the data route (its schema, with an example, is in src/routes/dashboards.ts). */
export interface DashboardData {
	dashboard: { id: string; version: number };
	time: { from: string; to: string };
	variables: Record<string, string | null>;
	panels: Record<string, { data: OqlResult } | { error: PanelError }>;
}

function invalid(path: string, message: string): ApiError {
	return new ApiError(400, "invalid_request", "The request is invalid.", { details: [{ path, message }] });
}

/**
 * The query string of the data route: `from`, `to` and `var.<name>` only, each at most once.
 * Left out, the range is the dashboard's default (a rolling `last` ends now; `from` alone runs to
 * now; `to` alone keeps the default's length), and a variable takes its default, else the first of
 * its fixed values, else none (panels that use it then fail on their own).
 */
export function parseDataQuery(
	queries: Record<string, string[]>,
	dashboard: Pick<Dashboard, "time" | "variables">,
	now: number,
): DataRequest {
	const declared = new Map(dashboard.variables.map((v) => [v.name, v]));
	const given = new Map<string, string>();
	let from: number | undefined;
	let to: number | undefined;
	for (const [key, values] of Object.entries(queries)) {
		if (values.length !== 1) throw invalid(key, "give this parameter once");
		const value = values[0] as string;
		if (key === "from" || key === "to") {
			const parsed = queryInstantSchema.safeParse(value);
			if (!parsed.success) throw invalid(key, "Expected RFC 3339 with a zone or epoch milliseconds");
			if (key === "from") from = parsed.data;
			else to = parsed.data;
		} else if (key.startsWith("var.")) {
			const name = key.slice("var.".length);
			if (!declared.has(name)) {
				const names = [...declared.keys()];
				throw invalid(
					key,
					`The dashboard has no variable ${JSON.stringify(name.slice(0, 64))}${names.length > 0 ? ` (it has ${names.join(", ")})` : ""}`,
				);
			}
			if (value.length > LIMITS.variableValueLength) {
				throw invalid(key, `at most ${LIMITS.variableValueLength} characters`);
			}
			given.set(name, value);
		} else {
			throw invalid(key, "Unknown parameter: use from, to and var.<name>");
		}
	}
	const time = dashboard.time;
	const span = "last" in time ? (durationMs(time.last) as number) : time.to - time.from;
	if (from === undefined && to === undefined) {
		if ("last" in time) {
			from = now - span;
			to = now;
		} else {
			from = time.from;
			to = time.to;
		}
	} else if (from === undefined) {
		from = (to as number) - span;
	} else if (to === undefined) {
		to = now;
	}
	if ((from as number) >= (to as number)) throw invalid("to", "to must be after from");
	const variables: Record<string, string | null> = {};
	for (const variable of dashboard.variables) {
		variables[variable.name] = given.get(variable.name) ?? variable.default ?? variable.values?.[0] ?? null;
	}
	return { from: from as number, to: to as number, variables };
}

/** Runs `tasks` with at most `limit` in flight, results in order. */
async function pooled<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
	const results: T[] = new Array(tasks.length);
	let next = 0;
	async function worker() {
		while (next < tasks.length) {
			const i = next++;
			results[i] = await (tasks[i] as () => Promise<T>)();
		}
	}
	await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
	return results;
}

export async function runDashboard(
	deps: Pick<AppDeps, "db" | "reads" | "clock" | "config" | "log" | "telemetry">,
	actor: SessionActor,
	dashboard: Dashboard,
	request: DataRequest,
): Promise<DashboardData> {
	const saved = await visibleQueryTexts(
		deps.db,
		actor,
		dashboard.panels.flatMap((p) => (p.saved_query_id === undefined ? [] : [p.saved_query_id])),
	);
	const results = await pooled(
		dashboard.panels.map((panel) => async () => {
			const text =
				panel.query ??
				(panel.saved_query_id === undefined ? undefined : saved.get(panel.saved_query_id)?.query);
			if (text === undefined) {
				const error: PanelError = {
					code: "not_found",
					message: "The panel's saved query no longer exists or is not visible to you.",
				};
				return { error };
			}
			try {
				return {
					data: await runQuery(deps, dashboard.orgId, text, {
						from: request.from,
						to: request.to,
						// Declared variables without a value go in as null: a panel that uses one says so.
						variables: request.variables,
					}),
				};
			} catch (error) {
				return { error: panelError(error, { dashboard: dashboard.id, panel: panel.id }, deps.log) };
			}
		}),
		PANEL_CONCURRENCY,
	);
	const panels: DashboardData["panels"] = {};
	dashboard.panels.forEach((panel, i) => {
		panels[panel.id] = results[i] as DashboardData["panels"][string];
	});
	return {
		dashboard: { id: dashboard.id, version: dashboard.version },
		time: { from: toRfc3339(request.from), to: toRfc3339(request.to) },
		variables: request.variables,
		panels,
	};
}
