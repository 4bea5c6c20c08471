import type { AppDeps } from "../app-env.js";
import { isStorageFailure } from "../db/errors.js";
import { ApiError, type ErrorCode } from "../errors.js";
import { errorFields, type Log } from "../log.js";
import { compileOql, type OqlResult, toApiError } from "../oql/execute.js";
import { OqlError, type Position } from "../oql/index.js";
import { tokenize } from "../oql/lexer.js";
import { runTelemetryOql } from "../telemetry/store.js";

/**
 * Where saved queries and dashboards meet OQL: checking a query when it is saved, running it, and
 * turning its errors into answers — the whole request's (a saved query) or one panel's.
 */

/** A stand-in for a variable without a default when a query is checked on save. */
const PLACEHOLDER = "x";

/**
 * Parses, binds, checks and compiles a query as it would run, without running it. Its `$variables`
 * take their defaults or a stand-in value: an error pointing at a variable depends on the value
 * chosen at run time, not on the query, so it is let through. `declared` (dashboards) lists the
 * variables the query may use (another is a 400 at its position); without it (saved queries), any
 * variable may appear — its value comes with each run. Throws the executor's 400 (OQL code and
 * `position`), with `path` naming the field in `details`.
 */
export function checkOql(
	deps: Pick<AppDeps, "clock" | "config">,
	orgId: string,
	text: string,
	path: string,
	declared?: { name: string; value: string | null }[],
): void {
	let variables: { pos: Position }[] = [];
	const values: Record<string, string> = {};
	try {
		const tokens = tokenize(text);
		variables = tokens.flatMap((t) => (t.kind === "variable" ? [t] : []));
		if (declared) {
			for (const variable of declared) values[variable.name] = variable.value ?? PLACEHOLDER;
		} else {
			for (const token of tokens) if (token.kind === "variable") values[token.name] = PLACEHOLDER;
		}
	} catch (error) {
		if (!(error instanceof OqlError)) throw error;
		// A lexical error: compileOql reports it below, as it would at run time.
	}
	try {
		compileOql(deps, orgId, text, { variables: values });
	} catch (error) {
		if (!(error instanceof ApiError) || error.status !== 400) throw error;
		const position = error.options.position;
		if (position && declaredAt(position, variables) && isValueError(text, position, values)) return;
		throw new ApiError(400, error.code, error.message, {
			...error.options,
			details: [{ path, message: error.message }],
		});
	}
}

function declaredAt(position: Position, variables: { pos: Position }[]): boolean {
	return variables.some((v) => v.pos.line === position.line && v.pos.column === position.column);
}

/** An error at a bound variable's position comes from its stand-in value unless the variable is unknown. */
function isValueError(text: string, position: Position, values: Record<string, string>): boolean {
	const line = text.split("\n")[position.line - 1] ?? "";
	const name = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec([...line].slice(position.column - 1).join(""))?.[1];
	return name !== undefined && Object.hasOwn(values, name);
}

/** One panel's failure, in the shape of an error body without its request id. */
export interface PanelError {
	code: ErrorCode | string;
	message: string;
	position?: Position;
}

/**
 * A panel's error: the client's (OQL errors, timeouts: `ApiError`s with their code) as they are;
 * anything else is logged and reported as `internal_error`, with no detail leaking out.
 */
export function panelError(
	error: unknown,
	where: { dashboard: string; panel: string },
	log: Log,
): PanelError {
	if (error instanceof OqlError) {
		return { code: error.code, message: error.message, ...(error.position && { position: error.position }) };
	}
	if (error instanceof ApiError) {
		return {
			code: error.code,
			message: error.message,
			...(error.options.position && { position: error.options.position }),
		};
	}
	const storage = isStorageFailure(error);
	log({
		level: "error",
		msg: storage ? "dashboard panel: storage unavailable" : "dashboard panel failed",
		dashboard_id: where.dashboard,
		panel_id: where.panel,
		...errorFields(error),
	});
	if (storage)
		return { code: "storage_unavailable", message: "The database is unavailable right now; retry later." };
	return { code: "internal_error", message: "An unexpected error occurred while running this panel." };
}

/** Runs a query for an org: the OQL executor, answering as `POST /api/v1/dsl` does. */
export async function runQuery(
	deps: Pick<AppDeps, "db" | "reads" | "clock" | "config" | "telemetry">,
	orgId: string,
	text: string,
	options: { from?: number; to?: number; variables?: Readonly<Record<string, string | null>> },
): Promise<OqlResult> {
	try {
		return await runTelemetryOql(deps, orgId, text, options);
	} catch (error) {
		if (error instanceof OqlError) throw toApiError(error);
		throw error;
	}
}
