import type { CallArg, Duration, Expr, Literal, Query, SelectItem, TimePoint } from "./ast.js";
import { isKeyword } from "./lexer.js";

/**
 * Prints a syntax tree as canonical OQL: upper-case keywords, clauses in the documented order,
 * parentheses only where precedence needs them. `parse(print(q))` gives `q` back (positions aside),
 * and the text of an expression is its identity (the semantic pass matches GROUP BY keys by it).
 */
export function print(query: Query): string {
	const parts = [`SELECT ${query.select.map(printSelectItem).join(", ")}`, `FROM ${query.from.name}`];
	if (query.where) parts.push(`WHERE ${printExpr(query.where)}`);
	if (query.groupBy.length > 0) parts.push(`GROUP BY ${query.groupBy.map(printExpr).join(", ")}`);
	if (query.orderBy.length > 0) {
		parts.push(
			`ORDER BY ${query.orderBy.map((item) => `${printExpr(item.expr)} ${item.direction.toUpperCase()}`).join(", ")}`,
		);
	}
	if (query.limit) parts.push(`LIMIT ${query.limit.value}`);
	const range = query.range;
	if (range?.kind === "last") parts.push(`LAST ${printDuration(range.duration)}`);
	if (range?.kind === "since") {
		parts.push(`SINCE ${printTimePoint(range.since)}`);
		if (range.until) parts.push(`UNTIL ${printTimePoint(range.until)}`);
	}
	const timeseries = query.timeseries;
	if (timeseries) {
		parts.push(`TIMESERIES ${timeseries.kind === "auto" ? "AUTO" : printDuration(timeseries.interval)}`);
	}
	return parts.join(" ");
}

function printSelectItem(item: SelectItem): string {
	if (item.kind === "star") return "*";
	const expr = printExpr(item.expr);
	return item.alias === null ? expr : `${expr} AS ${printName(item.alias)}`;
}

/** An alias prints as a bare word when it reads back as one, else as a quoted string. */
function printName(name: string): string {
	const lower = name.toLowerCase();
	const bare =
		/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) &&
		!isKeyword(name) &&
		lower !== "attributes" &&
		lower !== "resource";
	return bare ? name : printString(name);
}

export function printString(value: string): string {
	return `'${value.replaceAll("'", "''")}'`;
}

export function printDuration(duration: Pick<Duration, "value" | "unit">): string {
	return `${duration.value}${duration.unit}`;
}

function printTimePoint(point: TimePoint): string {
	return point.kind === "ago" ? `${printDuration(point.duration)} AGO` : printString(point.text);
}

export function printNumber(value: number): string {
	// A whole number beyond 2^53 reads back only in exponent form (the lexer refuses long integers).
	if (Number.isInteger(value) && !Number.isSafeInteger(value)) return value.toExponential();
	return String(value);
}

function printLiteral(literal: Literal): string {
	switch (literal.kind) {
		case "number":
			return printNumber(literal.value);
		case "string":
			return printString(literal.value);
		case "bool":
			return literal.value ? "TRUE" : "FALSE";
		case "variable":
			return `$${literal.name}`;
	}
}

/** Binding strength, loosest first; it mirrors the parser's levels. */
function level(expr: Expr): number {
	switch (expr.kind) {
		case "or":
			return 1;
		case "and":
			return 2;
		case "not":
			return 3;
		case "compare":
		case "in":
		case "like":
		case "contains":
		case "matches":
		case "isNull":
			return 4;
		case "arithmetic":
			return expr.op === "+" || expr.op === "-" ? 5 : 6;
		case "negate":
			return 7;
		default:
			return 8;
	}
}

/** Prints `child`, in parentheses when it binds looser than `minimum`. */
function operand(child: Expr, minimum: number): string {
	const text = printExpr(child);
	return level(child) < minimum ? `(${text})` : text;
}

export function printExpr(expr: Expr): string {
	switch (expr.kind) {
		case "number":
		case "string":
		case "bool":
		case "variable":
			return printLiteral(expr);
		case "field":
			return expr.name;
		case "attribute":
			return `${expr.map}[${printString(expr.key)}]`;
		case "duration":
			return printDuration(expr.duration);
		case "negate": {
			// `-(5)` keeps a negated constant apart from the constant -5; `-(-x)` avoids a `--` comment.
			const inner = operand(expr.operand, 7);
			const wrap = expr.operand.kind === "number" || inner.startsWith("-");
			return wrap && !inner.startsWith("(") ? `-(${inner})` : `-${inner}`;
		}
		case "arithmetic": {
			const own = level(expr);
			return `${operand(expr.left, own)} ${expr.op} ${operand(expr.right, own + 1)}`;
		}
		case "compare":
			return `${operand(expr.left, 5)} ${expr.op} ${operand(expr.right, 5)}`;
		case "and":
			return `${operand(expr.left, 2)} AND ${operand(expr.right, 3)}`;
		case "or":
			return `${operand(expr.left, 1)} OR ${operand(expr.right, 2)}`;
		case "not":
			return `NOT ${operand(expr.operand, 3)}`;
		case "in":
			return `${operand(expr.operand, 5)} ${expr.negated ? "NOT IN" : "IN"} (${expr.values.map(printLiteral).join(", ")})`;
		case "like":
		case "contains":
		case "matches":
			return `${operand(expr.operand, 5)} ${expr.negated ? "NOT " : ""}${expr.kind.toUpperCase()} ${printLiteral(expr.pattern)}`;
		case "isNull":
			return `${operand(expr.operand, 5)} IS ${expr.negated ? "NOT " : ""}NULL`;
		case "call":
			return `${expr.name}(${expr.args.map(printArg).join(", ")})`;
	}
}

function printArg(arg: CallArg): string {
	return arg.kind === "star" ? "*" : printExpr(arg);
}
