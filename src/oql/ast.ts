import type { Position } from "./errors.js";
import type { AttributeMap, DurationUnit } from "./lexer.js";

/**
 * The OQL syntax tree. Every node carries the position of its first token, for error messages;
 * the tree holds no parentheses (they only shape it) so printing and parsing again gives it back.
 */

export interface Duration {
	value: number;
	unit: DurationUnit;
	pos: Position;
}

/** `<>` is read as `!=`. */
export type CompareOp = "=" | "!=" | "<" | "<=" | ">" | ">=";
export type ArithmeticOp = "+" | "-" | "*" | "/";

export type Literal =
	| { kind: "number"; value: number; pos: Position }
	| { kind: "string"; value: string; pos: Position }
	| { kind: "bool"; value: boolean; pos: Position }
	/**
	 * `$service`: a placeholder for a string value, wherever a string constant may stand. It is
	 * replaced by that string (a `string` literal, so a bound parameter) before the semantic pass
	 * (variables.ts); the checker and the compiler never see one.
	 */
	| { kind: "variable"; name: string; pos: Position };

export type Expr =
	| Literal
	/** A friendly field name, lower-cased (`duration_ms`); checked against the source's field map. */
	| { kind: "field"; name: string; pos: Position }
	/** `attributes['http.route']`, `resource['k8s.pod.name']`: the key is kept exactly as written. */
	| { kind: "attribute"; map: AttributeMap; key: string; pos: Position }
	/** A duration as a value: only the interval of `rate(…, 1m)`. */
	| { kind: "duration"; duration: Duration; pos: Position }
	| { kind: "negate"; operand: Expr; pos: Position }
	| { kind: "arithmetic"; op: ArithmeticOp; left: Expr; right: Expr; pos: Position }
	| { kind: "compare"; op: CompareOp; left: Expr; right: Expr; pos: Position }
	| { kind: "and" | "or"; left: Expr; right: Expr; pos: Position }
	| { kind: "not"; operand: Expr; pos: Position }
	| { kind: "in"; operand: Expr; negated: boolean; values: Literal[]; pos: Position }
	/** LIKE, CONTAINS and MATCHES take a string literal on the right. */
	| {
			kind: "like" | "contains" | "matches";
			operand: Expr;
			negated: boolean;
			pattern: Literal;
			pos: Position;
	  }
	| { kind: "isNull"; operand: Expr; negated: boolean; pos: Position }
	/** A function call, its name lower-cased; `count(*)` has the argument `star`. */
	| { kind: "call"; name: string; args: CallArg[]; pos: Position };

export type CallArg = Expr | { kind: "star"; pos: Position };

export type SelectItem =
	| { kind: "star"; pos: Position }
	| { kind: "expr"; expr: Expr; alias: string | null; pos: Position };

export interface OrderItem {
	expr: Expr;
	direction: "asc" | "desc";
	pos: Position;
}

/** `2h ago` or an RFC 3339 timestamp (kept as written; checked and resolved by the semantic pass). */
export type TimePoint =
	| { kind: "ago"; duration: Duration; pos: Position }
	| { kind: "timestamp"; text: string; pos: Position };

export type TimeRange =
	| { kind: "last"; duration: Duration; pos: Position }
	| { kind: "since"; since: TimePoint; until: TimePoint | null; pos: Position };

export type Timeseries =
	| { kind: "auto"; pos: Position }
	| { kind: "interval"; interval: Duration; pos: Position };

export interface Query {
	select: SelectItem[];
	/** The source as written, lower-cased (`traces` stays `traces`; the semantic pass resolves it). */
	from: { name: string; pos: Position };
	where: Expr | null;
	groupBy: Expr[];
	orderBy: OrderItem[];
	limit: { value: number; pos: Position } | null;
	range: TimeRange | null;
	timeseries: Timeseries | null;
	pos: Position;
}
