import { type CompiledQuery, compile } from "./compiler.js";
import type { SqlDialect } from "./dialect.js";
import { parse } from "./parser.js";
import { check } from "./semantic.js";

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
}

/** Text to one parameterized statement: parse, check, compile. Throws OqlError for the client's mistakes. */
export function prepareOql(text: string, options: PrepareOptions): CompiledQuery {
	const checked = check(parse(text), {
		now: options.now,
		regex: options.dialect.regex,
		...(options.maxRangeMs === undefined ? {} : { maxRangeMs: options.maxRangeMs }),
	});
	return compile(checked, { orgId: options.orgId, dialect: options.dialect });
}
