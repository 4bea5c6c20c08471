import { type CompiledQuery, compile } from "./compiler.js";
import type { SqlDialect } from "./dialect.js";
import { parse } from "./parser.js";
import { planFromRollups } from "./rollup-planner.js";
import { check } from "./semantic.js";
import { bindVariables } from "./variables.js";

export type { CompiledColumn, CompiledQuery } from "./compiler.js";
export { OqlError, type OqlErrorCode, type Position } from "./errors.js";
export { sqliteDialect } from "./sqlite-dialect.js";

export interface PrepareOptions {
	orgId: string;
	/** Epoch milliseconds: rolling ranges (LAST, AGO, the default) end here. */
	now: number;
	dialect: SqlDialect;
	/** The widest time range allowed; default 31 days. */
	maxRangeMs?: number;
	/** Values of `$name` placeholders, each bound as a string (variables.ts). */
	variables?: Readonly<Record<string, string | null>>;
	/** Bounds (epoch ms) that replace the query's own time range, each when given. */
	range?: { fromMs?: number | undefined; toMs?: number | undefined };
	/** Answer from the rollups when the query's shape allows (rollup-planner.ts). */
	rollups?: boolean;
}

/**
 * Text to one parameterized statement: parse, bind variables, check, compile (from the rollups when
 * asked and the shape allows, else over raw rows). Throws OqlError for the client's mistakes.
 */
export function prepareOql(text: string, options: PrepareOptions): CompiledQuery {
	const checked = check(bindVariables(parse(text), options.variables), {
		now: options.now,
		regex: options.dialect.regex,
		...(options.maxRangeMs === undefined ? {} : { maxRangeMs: options.maxRangeMs }),
		...(options.range === undefined ? {} : { range: options.range }),
	});
	if (options.rollups) {
		const plan = planFromRollups(checked, { orgId: options.orgId, dialect: options.dialect });
		if (plan) return plan;
	}
	return compile(checked, { orgId: options.orgId, dialect: options.dialect });
}
