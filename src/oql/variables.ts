import type { CallArg, Expr, Literal, Query } from "./ast.js";
import { didYouMean, invalidQuery } from "./errors.js";

/** Variable names: what the lexer reads after `$`. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Replaces every `$name` of a parsed query by a string literal holding its value: dashboards and
 * saved queries fill `$service` and the like. The value never becomes OQL or SQL text: it is a
 * `string` node like `'…'`, compiled to a bound parameter. Names are case-sensitive; a name without
 * a value is `oql_invalid_query` at its position: a name given as null is declared (a dashboard's
 * variable) but has no value yet, which the message says. A query without variables is returned as
 * it is.
 */
export function bindVariables(query: Query, variables: Readonly<Record<string, string | null>> = {}): Query {
	const names = Object.keys(variables);
	const literal = (node: Literal): Literal => {
		if (node.kind !== "variable") return node;
		const value = Object.hasOwn(variables, node.name) ? variables[node.name] : undefined;
		if (value === null) {
			throw invalidQuery(
				`The variable $${node.name} has no value: choose one, or give the variable a default.`,
				node.pos,
			);
		}
		if (typeof value !== "string") {
			const hint =
				names.length === 0
					? " No variables are defined for this query."
					: `${didYouMean(node.name, names)} Defined: ${names.map((n) => `$${n}`).join(", ")}`;
			throw invalidQuery(`Unknown variable $${node.name}.${hint}`, node.pos);
		}
		return { kind: "string", value, pos: node.pos };
	};
	const expr = (node: Expr): Expr => {
		switch (node.kind) {
			case "number":
			case "string":
			case "bool":
			case "variable":
				return literal(node);
			case "field":
			case "attribute":
			case "duration":
				return node;
			case "negate":
			case "not":
			case "isNull":
				return { ...node, operand: expr(node.operand) };
			case "arithmetic":
			case "compare":
			case "and":
			case "or":
				return { ...node, left: expr(node.left), right: expr(node.right) };
			case "in":
				return { ...node, operand: expr(node.operand), values: node.values.map(literal) };
			case "like":
			case "contains":
			case "matches":
				return { ...node, operand: expr(node.operand), pattern: literal(node.pattern) };
			case "call":
				return {
					...node,
					args: node.args.map((arg: CallArg) => (arg.kind === "star" ? arg : expr(arg))),
				};
		}
	};
	return {
		...query,
		select: query.select.map((item) => (item.kind === "star" ? item : { ...item, expr: expr(item.expr) })),
		where: query.where ? expr(query.where) : null,
		groupBy: query.groupBy.map(expr),
		orderBy: query.orderBy.map((item) => ({ ...item, expr: expr(item.expr) })),
	};
}
